"""toprank: ranked, sourced answers about claims data, in Slack and on the command line.

The packages: toprank.data (reference files, the database edge), toprank.intents
(question -> spec), toprank.sql (spec -> SQL, engines), toprank.bot (answers, surfaces,
benchmarks). In the repository they are the top-level folders bot/, data/, intents/ and
sql/; toprank/ holds symbolic links to them, so a checkout, an editable install and a
wheel all import them by the same names.
"""
