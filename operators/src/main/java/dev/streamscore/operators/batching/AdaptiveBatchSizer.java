package dev.streamscore.operators.batching;

import java.time.Duration;
import org.apache.flink.util.Preconditions;

/**
 * Chooses the size and the wait of the next micro-batch from a latency target, the measured model
 * service time per batch size, and the arrival rate of rows, as BentoML's adaptive batching does.
 *
 * <p>The rule. Let {@code T} be the latency target, {@code g} the mean gap between two rows that
 * need the model (an exponentially weighted average; {@code 1/g} is the arrival rate) and {@code
 * S(b)} the expected duration of a model call on {@code b} rows. The oldest row of a batch of
 * {@code b} waits about {@code (b - 1) * g} for the batch to fill, then {@code S(b)} for the call.
 * The sizer picks the largest {@code b} in {@code [1, maxBatchSize]} with {@code (b - 1) * g + S(b)
 * <= T}: batches as large as the rate allows within the target. The batch's wait is {@code T -
 * S(b)}, within {@code [0, maxWait]}: when the rate drops, a partial batch still leaves in time to
 * meet the target. When even one row cannot meet the target, batches are of one row and do not
 * wait. (The operator checks the wait on each arrival, to the nanosecond, and backs it with a
 * processing-time timer rounded up to whole milliseconds for when rows stop coming.)
 *
 * <p>{@code S(b)} is kept per size bucket {@code [2^k, 2^(k+1))} as an exponentially weighted
 * average of the successful calls of that bucket. An unmeasured bucket borrows from the nearest
 * measured one: a larger bucket's time as is (fewer rows cost no more), else a smaller one's scaled
 * up in proportion to the rows (a pessimistic guess the first batch of that size corrects). Until a
 * first call was measured, batches use {@code maxBatchSize} and {@code maxWait}. The rule leaves
 * out waiting for a free in-flight slot: when the model cannot keep up, back-pressure, not batch
 * size, is what bounds the queue.
 *
 * <pre>{@code
 * AdaptiveBatchSizer sizer = new AdaptiveBatchSizer(Duration.ofMillis(5), 256, Duration.ofMillis(10));
 * sizer.onArrival(System.nanoTime());              // each row that needs the model
 * sizer.onCall(rows, nanos);                       // each successful model call
 * sizer.choose();                                  // when a batch opens
 * int size = sizer.batchSize();
 * long waitNanos = sizer.waitNanos();
 * }</pre>
 */
final class AdaptiveBatchSizer {

    /** Weight of a new inter-arrival gap: about the last 20 rows make the rate. */
    static final double ARRIVAL_WEIGHT = 0.1;

    /** Weight of a new service time measurement: about the last 5 calls of a size make it. */
    static final double SERVICE_WEIGHT = 0.2;

    private final long targetNanos;
    private final int maxBatchSize;
    private final long maxWaitNanos;

    /** Gaps longer than this say only "slow": capped so one idle pause does not linger. */
    private final long maxGapNanos;

    /** Service time per bucket k (batch sizes [2^k, 2^(k+1))), in ns; 0 = not measured. */
    private final double[] serviceNanos;

    private double meanGapNanos = -1;
    private long lastArrivalNanos;
    private boolean anyArrival;

    private int batchSize;
    private long waitNanos;

    AdaptiveBatchSizer(Duration target, int maxBatchSize, Duration maxWait) {
        Preconditions.checkArgument(
                target != null && target.toNanos() > 0,
                "latency target must be positive, found %s",
                target);
        Preconditions.checkArgument(
                maxBatchSize >= 1, "max batch size must be positive, found %s", maxBatchSize);
        this.targetNanos = target.toNanos();
        this.maxBatchSize = maxBatchSize;
        this.maxWaitNanos = maxWait.toNanos();
        this.maxGapNanos = Math.max(targetNanos, maxWaitNanos);
        this.serviceNanos = new double[bucket(maxBatchSize) + 1];
        this.batchSize = maxBatchSize;
        this.waitNanos = maxWaitNanos;
    }

    /** A row that needs the model arrived at {@code nanos} (a monotonic clock). */
    void onArrival(long nanos) {
        if (anyArrival) {
            double gap = Math.min(Math.max(0, nanos - lastArrivalNanos), maxGapNanos);
            meanGapNanos =
                    meanGapNanos < 0
                            ? gap
                            : ARRIVAL_WEIGHT * gap + (1 - ARRIVAL_WEIGHT) * meanGapNanos;
        }
        anyArrival = true;
        lastArrivalNanos = nanos;
    }

    /** A model call on {@code rows} rows succeeded after {@code nanos}. */
    void onCall(int rows, long nanos) {
        int k = bucket(Math.min(rows, maxBatchSize));
        serviceNanos[k] =
                serviceNanos[k] == 0
                        ? Math.max(1, nanos)
                        : SERVICE_WEIGHT * nanos + (1 - SERVICE_WEIGHT) * serviceNanos[k];
    }

    /** Chooses {@link #batchSize()} and {@link #waitNanos()} for the batch opening now. */
    void choose() {
        if (meanGapNanos < 0 || !anyMeasurement()) {
            batchSize = maxBatchSize;
            waitNanos = maxWaitNanos;
            return;
        }
        int best = 1;
        for (int b = maxBatchSize; b > 1; b--) {
            if ((b - 1) * meanGapNanos + expectedServiceNanos(b) <= targetNanos) {
                best = b;
                break;
            }
        }
        batchSize = best;
        waitNanos =
                best == 1
                        ? 0
                        : Math.min(
                                maxWaitNanos,
                                Math.max(0, targetNanos - (long) expectedServiceNanos(best)));
    }

    /** Rows at which the batch opened by the last {@link #choose()} closes. */
    int batchSize() {
        return batchSize;
    }

    /** How long that batch's oldest row may wait for more rows. */
    long waitNanos() {
        return waitNanos;
    }

    /** The expected duration of a call on {@code b} rows, or 0 when nothing was measured yet. */
    double expectedServiceNanos(int b) {
        int k = bucket(b);
        if (serviceNanos[k] > 0) {
            return serviceNanos[k];
        }
        for (int larger = k + 1; larger < serviceNanos.length; larger++) {
            if (serviceNanos[larger] > 0) {
                return serviceNanos[larger];
            }
        }
        for (int smaller = k - 1; smaller >= 0; smaller--) {
            if (serviceNanos[smaller] > 0) {
                return serviceNanos[smaller] * (double) (1 << k) / (1 << smaller);
            }
        }
        return 0;
    }

    /** The mean gap between arrivals, in ns, or -1 before two arrivals. */
    double meanGapNanos() {
        return meanGapNanos;
    }

    private boolean anyMeasurement() {
        for (double s : serviceNanos) {
            if (s > 0) {
                return true;
            }
        }
        return false;
    }

    private static int bucket(int rows) {
        return 31 - Integer.numberOfLeadingZeros(rows);
    }
}
