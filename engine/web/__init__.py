"""The CME team's web service: server-rendered GOV.UK pages over the same commands and readers as
the `cme` command line. No rule lives in a view: every page shows what `cme` would say.
"""
