"""Housekeeping of a repository: what is reachable, ``lake gc`` and ``lake fsck``.

* :mod:`lake.maintain.reach`: which commits a gc keeps, and which Delta layer versions, files,
  contracts and profiles they need;
* :mod:`lake.maintain.gc`: reclaim what nothing retained can reach, in an order that keeps
  every retained ref readable if it is stopped at any moment;
* :mod:`lake.maintain.fsck`: check every object and file, list foreign and orphaned Delta
  versions, orphan files, and the owner of each branch layer;
* :mod:`lake.maintain.owners` and :mod:`lake.maintain.expired`: the small records under
  ``_lake/`` these need (which branch a layer belongs to; which commits gc expired).

Never calls delta-rs ``vacuum``: a file one Delta table no longer uses may be used by a branch,
a tag or an older commit, and only the lake's commits know.
"""
