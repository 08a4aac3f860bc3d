"""The lab: a phase rehearsed on one machine (network namespaces, FRR, Prometheus, moto S3), started and stopped
by PID from a state file (`kasbah.lab.state`)."""
