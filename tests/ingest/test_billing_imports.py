

def test_stripe_paused_after_a_trial_and_paused_at(crm, write):
    header = "id,Customer ID,Plan,Amount,Currency,Interval,Status,Start Date (UTC),Trial Start (UTC),Trial End (UTC),Paused At\n"
    csv = write("p.csv", header
                # Stripe pauses a subscription whose trial ended without a payment method: it never paid.
                + "p1,cus_2,pro,50.00,eur,month,paused,2024-03-01 00:00,2024-03-01 00:00,2024-03-15 00:00,\n"
                # A paused subscription with the day of the pause: a paid line up to that day.
                + "p2,cus_3,pro,50.00,eur,month,paused,2024-01-01 00:00,,,2024-05-10 00:00\n")
    report = crm.import_file("subscriptions", csv, kind="stripe")
    assert (report.rows_accepted, report.rows_quarantined) == (2, 0)
    got = subs(crm)
    assert line(got["p1"]) == (date(2024, 3, 1), date(2024, 3, 15), 50.0, 1, "recurring", True)
    assert line(got["p2"]) == (date(2024, 1, 1), date(2024, 5, 10), 50.0, 1, "recurring", False)
