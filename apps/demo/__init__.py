"""The demo data of `make run`: a demo user, its Space and sample workflows (`seed_demo`). It
sits on top of the apps it fills, so that none of them depends on it."""
