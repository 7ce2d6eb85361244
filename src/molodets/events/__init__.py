"""Watch events from the player: the recommender's evidence and the view counter's source."""
