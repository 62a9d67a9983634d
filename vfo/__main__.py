from vfo.cli import app

app()
