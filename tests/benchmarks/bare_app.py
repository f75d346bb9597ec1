"""The baseline for the HTTP benchmarks: the smallest Flask app, served the same way."""
from flask import Flask

app = Flask(__name__)


@app.post("/")
def ok():
    return "ok"
