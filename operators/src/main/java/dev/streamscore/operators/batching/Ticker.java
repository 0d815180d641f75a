package dev.streamscore.operators.batching;

import java.io.Serializable;

/**
 * A monotonic clock in nanoseconds: arrival times, queue times and model call durations. The
 * operator uses {@link System#nanoTime()}; tests pass a fake one to drive adaptive batching.
 */
@FunctionalInterface
public interface Ticker extends Serializable {

    /** The system's monotonic clock. */
    Ticker SYSTEM = System::nanoTime;

    long nanoTime();
}
