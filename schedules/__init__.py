"""Time: the on-call rotation engine and the scheduler that runs the ping passes."""
