"""揭榜挂帅: challenges, finding and inviting teams, applications, expert review, awards."""
