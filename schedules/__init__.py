"""Time: the on-call rotation engine, the scheduler and its jobs."""
