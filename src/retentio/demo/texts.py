"""Fixed French and English texts of the demo book: ticket subjects and bodies, survey comments.

Bodies are composed as ``opener(tone) + core(topic) + closer(tone)`` so that a few dozen
hand-written fragments give hundreds of distinct, coherent texts whose tone (angry, neutral,
happy) is visible to a sentiment scorer.  Every list is fixed and ordered: texts are chosen
by index with the generator's random stream, never by hashing or set order.
"""

from __future__ import annotations

LANGUAGES = ("en", "fr")
TONES = ("angry", "neutral", "happy")
TOPICS = ("billing", "integration", "bug", "how-to", "feature-request")

SUBJECTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "billing": ("Invoice amount looks wrong", "Question about our invoice", "Charged twice this month",
                    "VAT number missing on invoice"),
        "integration": ("Salesforce sync stopped", "Webhook not firing", "API token rejected",
                        "Slack integration disconnected"),
        "bug": ("Export fails with an error", "Dashboard does not load", "Report shows wrong totals",
                "Cannot save project settings"),
        "how-to": ("How do I invite a colleague?", "How to schedule a report", "Setting up user roles",
                   "Where can I change the currency?"),
        "feature-request": ("Request: dark mode", "Request: export to Google Sheets", "Idea: custom fields on projects",
                            "Request: SSO with Okta"),
    },
    "fr": {
        "billing": ("Montant de la facture incorrect", "Question sur notre facture", "Prélevés deux fois ce mois-ci",
                    "Numéro de TVA absent de la facture"),
        "integration": ("La synchro Salesforce est arrêtée", "Le webhook ne se déclenche plus", "Jeton API refusé",
                        "Intégration Slack déconnectée"),
        "bug": ("L'export échoue avec une erreur", "Le tableau de bord ne charge pas", "Le rapport affiche de faux totaux",
                "Impossible d'enregistrer les paramètres du projet"),
        "how-to": ("Comment inviter un collègue ?", "Comment planifier un rapport", "Configurer les rôles utilisateurs",
                   "Où changer la devise ?"),
        "feature-request": ("Demande : mode sombre", "Demande : export vers Google Sheets",
                            "Idée : champs personnalisés sur les projets", "Demande : SSO avec Okta"),
    },
}

OPENERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "angry": ("This is unacceptable.", "I am really frustrated.", "Once again the same problem, this is terrible."),
        "neutral": ("Hello,", "Hi team,", "Good morning,"),
        "happy": ("Hi, first of all thanks for the great product!", "Hello, we love the tool so far.",
                  "Hi team, you have been very helpful lately."),
    },
    "fr": {
        "angry": ("C'est inadmissible.", "Je suis vraiment très mécontent.", "Encore le même problème, c'est lamentable."),
        "neutral": ("Bonjour,", "Bonjour à l'équipe,", "Bonjour,"),
        "happy": ("Bonjour, merci d'abord pour cet excellent outil !", "Bonjour, nous adorons le produit.",
                  "Bonjour, votre équipe a été super réactive ces derniers temps."),
    },
}

CORES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "billing": ("Our last invoice does not match the number of seats we use.",
                    "We were charged twice for the same month.",
                    "Could you send the invoice with our VAT number?"),
        "integration": ("The Salesforce synchronisation stopped yesterday and no data comes in.",
                        "Our webhook has not received any event since Monday.",
                        "The API returns 401 with a token that worked last week."),
        "bug": ("Exporting the monthly report fails with an internal error.",
                "The dashboard stays blank after login.",
                "The totals in the revenue report do not add up."),
        "how-to": ("How can I give a colleague read-only access?",
                   "Is there a way to send a report every Monday automatically?",
                   "Where do I change the default currency of a project?"),
        "feature-request": ("It would help us a lot to export directly to Google Sheets.",
                            "Could you add custom fields on projects?",
                            "We need single sign-on with Okta for our security team."),
    },
    "fr": {
        "billing": ("Notre dernière facture ne correspond pas au nombre de licences utilisées.",
                    "Nous avons été prélevés deux fois pour le même mois.",
                    "Pourriez-vous nous renvoyer la facture avec notre numéro de TVA ?"),
        "integration": ("La synchronisation Salesforce s'est arrêtée hier et plus aucune donnée n'arrive.",
                        "Notre webhook ne reçoit plus aucun événement depuis lundi.",
                        "L'API renvoie 401 avec un jeton qui fonctionnait la semaine dernière."),
        "bug": ("L'export du rapport mensuel échoue avec une erreur interne.",
                "Le tableau de bord reste vide après la connexion.",
                "Les totaux du rapport de chiffre d'affaires sont faux."),
        "how-to": ("Comment donner un accès en lecture seule à un collègue ?",
                   "Peut-on envoyer un rapport automatiquement chaque lundi ?",
                   "Où change-t-on la devise par défaut d'un projet ?"),
        "feature-request": ("Un export direct vers Google Sheets nous aiderait beaucoup.",
                            "Pourriez-vous ajouter des champs personnalisés sur les projets ?",
                            "Nous avons besoin du SSO avec Okta pour notre équipe sécurité."),
    },
}

CLOSERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "angry": ("We are seriously considering other tools if this is not fixed today.",
                  "Fix it now, this is costing us money.",
                  "Very disappointed with the service."),
        "neutral": ("Thanks.", "Regards.", "Let me know."),
        "happy": ("Thanks a lot, you are great!", "Keep up the excellent work!", "Many thanks, awesome support as usual."),
    },
    "fr": {
        "angry": ("Nous envisageons sérieusement de changer d'outil si ce n'est pas réglé aujourd'hui.",
                  "Corrigez ça tout de suite, cela nous coûte de l'argent.",
                  "Très déçus par le service."),
        "neutral": ("Merci.", "Cordialement.", "Tenez-moi au courant."),
        "happy": ("Merci beaucoup, vous êtes top !", "Continuez comme ça, c'est excellent !",
                  "Un grand merci, support génial comme toujours."),
    },
}

# Survey comments by sentiment class: negative (NPS 0-6, CSAT 1-2), neutral (NPS 7-8,
# CSAT 3), positive (NPS 9-10, CSAT 4-5).
COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "negative": ("Too many bugs and support is slow.", "Expensive for what it does.",
                     "The integrations keep breaking, very frustrating.", "Hard to use, my team gave up.",
                     "Disappointed, reports are often wrong.", "Terrible experience with the last update."),
        "neutral": ("It does the job.", "Fine overall, some features are missing.", "OK, but the interface could be simpler.",
                    "Decent product, average support.", "Works, nothing special.", "Good enough for now."),
        "positive": ("Great product, our team loves it!", "Excellent support, very fast answers.",
                     "Saves us hours every week, highly recommend.", "Best tool we have used, thank you!",
                     "Very easy to use and powerful.", "Amazing reports, our managers are happy."),
    },
    "fr": {
        "negative": ("Trop de bugs et le support est lent.", "Trop cher pour ce que ça fait.",
                     "Les intégrations cassent sans arrêt, très frustrant.", "Difficile à utiliser, mon équipe a abandonné.",
                     "Déçu, les rapports sont souvent faux.", "Expérience horrible depuis la dernière mise à jour."),
        "neutral": ("Ça fait le travail.", "Correct dans l'ensemble, il manque des fonctionnalités.",
                    "Bien, mais l'interface pourrait être plus simple.", "Produit correct, support moyen.",
                    "Ça marche, sans plus.", "Suffisant pour l'instant."),
        "positive": ("Super produit, notre équipe l'adore !", "Excellent support, réponses très rapides.",
                     "Nous gagnons des heures chaque semaine, je recommande vivement.",
                     "Le meilleur outil que nous ayons utilisé, merci !", "Très simple à utiliser et puissant.",
                     "Rapports géniaux, nos managers sont ravis."),
    },
}
