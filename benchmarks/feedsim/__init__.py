"""feedsim: simulated users watch the For You feed, so that ranking quality is a measured number.

Run from the repository root: `.venv/bin/python -m benchmarks.feedsim` (or `--quick` for a
smoke test; `--help` for sizes). It prints the calibration gate, tables and the issue's goals,
and saves a plot (`--plot`, default var/feedsim.png).

The world (world.py), rebuilt identically for every policy of a seed:
- 24 topics (20-32) of Zipf-like popularity. Creators have a main topic, a language (ru 70 %,
  en 30 %), a skill, and Zipf-like sizes. Videos have 1-2 topics, a hidden quality (half their
  creator's skill, half their own), a language, a KuaiRand-Pure duration (log-space inverse CDF
  of its quantiles), 70 % vertical, and hashtags: their topics as `topic07` 75 % of the time,
  else `fyp` / `рек` or none. Recommenders see hashtags, creator, language and duration, never
  topics or quality. Uploads arrive evenly through each simulated day.
- Users have sparse tastes (1-4 dominant topics), a language, an activity (sessions a day),
  a patience, and tastes that drift a little between sessions; some join after day 0 (the
  "new users" of the cold-start metrics).
- True utility = quality^0.8 x (0.3 + 0.7 x topic affinity^0.7) x (0.3 if not the user's
  language), dulled by 10 % for each same-topic video among the last 5 (boredom). Utility
  drives whether the user gets past the first seconds and how long they stay (a Weibull whose
  scale grows with utility), replays, likes / follows / shares (on long views) and "not
  interested" (on skips). Each video spends about one unit of patience and good ones refill
  it; the session ends when patience runs out, at a small constant hazard, or at 200 videos.
  Responses are drawn from (seed, user, video), so a user meets a video the same way under
  every policy.

KuaiRand's definitions: valid play (> 7 s, or the whole video if it is 7 s or shorter), long
view (> 18 s or complete), complete, skip (< 3 s). The calibration gate runs the uniform-random
policy on a larger world of each seed (same constants, at least 800 users) and checks that the
pooled rates match KuaiRand's random exposure (valid 17.6 %, long 8.5 %, complete 3.3 %,
like+follow+share 0.56 % per impression) within ±20 %; if not, results are printed but do not
count.

Policies (same seeds, same worlds): random, popularity (most long views so far),
coengagement (item-item co-occurrence of positives), als_daily (implicit's ALS retrained each
simulated midnight), oracle (knows true utility and boredom), taste_oracle (knows every user's
true tastes and boredom but not the videos' quality, which it learns from the long views it
served: what knowing tastes alone is worth), and the real recommender through
its service functions on a migrated SQLite file: `molodets` writes the events at once,
`molodets_daily` holds them back until midnight (the same model, updated daily).

Every policy is asked for pages as the web player asks: a first page of 6 (the slides that come
with the HTML), then pages of 10, each asked for when 4 videos are left to play, after the
events of those played so far are sent (runner.py: `FIRST_PAGE`, `PAGE_SIZE`, `FETCH_AHEAD`).

Metrics, mean ±95 % CI over seeds: watch time and depth per session; valid / long / complete /
positive / hate rates per impression; new users' first-session watch time and convergence
(impressions until the rolling mean of true utility over 10 reaches 80 % of the oracle's
rolling mean for the same user at the same impression; capped at 100), and how close they got
(their impressions 10-30 against the oracle's); impressions each upload gets in its first
simulated hour; the largest creator's share of impressions; the share on videos under a day
old and its watch deficit (a proxy for the cost of exploring); page build time. The real
recommender also reports its event-write times, short pages and validator drops, and any
video offered twice to one viewer (never shown: the simulator skips it and counts it).
"""

import os

# implicit (the ALS baseline) warns and slows down when OpenBLAS runs its own threads beside
# our worker processes; this must be set before numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
