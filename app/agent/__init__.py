"""The probe agent: takes probe jobs from a queue (the database in the server's own process,
HTTP on another machine), runs them with the probe runner and hands back the document."""
