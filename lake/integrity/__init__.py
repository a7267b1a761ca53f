"""Integrity across datasets: checks that no one dataset's contract can decide alone, shared by
the commit loop (:mod:`lake.write`) and the merge gate (:mod:`lake.merge`)."""
