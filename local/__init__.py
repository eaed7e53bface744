"""The Docker-free local runtime: template.yaml run in-process on moto (never deployed)."""
