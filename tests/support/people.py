"""Who is who in the example config (escalation.example.yaml), as the tests name them."""

REPORTER = "U0ANA00001"  # team member
ONCALL = "U0BEN00001"  # primary on call at the fixture's clock: the default owner
MEMBER = "U0CHI00001"  # team member
LEAD = "U0LEAD0001"  # team member
SALES = "U0SAL00001"  # routed into #ads escalations; not a team member
OUTSIDER = "U0COM00001"  # comms: in no #ads escalation, not a team member
