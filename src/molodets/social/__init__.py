"""What viewers do to videos and creators besides watching: follows, likes, bookmarks, shares,
and the counters they keep exact."""
