"""`make bench`: Warden's speed measured against its peers and physical limits in one run.

Every figure is a ratio against something measured in the same run (the embedding model's own
time, a plain Chroma query, a ReAct agent, the database's raw insert rate, Slack's 3 s limit),
because absolute times on shared machines drift from run to run.
"""
