"""Benchmarks shipped with the package, so they run from any install (a wheel included):

    toprank bench                       bot.bench.answers (build, answer latency, memory)
    python -m toprank.bot.bench.startup         one `toprank ask` from a cold process

The other harnesses (ingest, scale-out, Slack load) need the repository and stay in tests/.
"""
