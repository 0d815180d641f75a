package dev.streamscore.pipeline.features;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * What a pipeline remembers about one key: its recent events (a time-ordered ring holding, for each
 * event, its time and each aggregate's value of it), running totals over all its events, what its
 * forgotten events leave for the whole-history aggregates, and the ids of its newest events with
 * the feature rows they got, so that a re-sent one gets its first row. One value per key in keyed
 * state ({@link KeyStateCodec}), read and written once per event; changed only by {@link
 * FeatureEngine} and {@link #remember}.
 */
public final class KeyState {

    /** Stands for an event an aggregate's {@code where} (or a null value) leaves out. */
    static final Object EXCLUDED = new Object();

    /** Most ids kept inline for recognising re-sends; the oldest go first. */
    public static final int MAX_SEEN = 64;

    /** Most distinct values the whole-history {@code distinct} keeps of forgotten events. */
    static final int MAX_EVICTED_DISTINCT = 4096;

    long received;
    long newest = Long.MIN_VALUE;

    /** The latest time of an event that left the ring; Long.MIN_VALUE if none did. */
    long evictedUntil = Long.MIN_VALUE;

    // Per aggregate (index of the aggregate), whole-history running values over every event.
    double[] runCount;
    double[] runSum;
    double[] runMean;

    // Per aggregate, what the events that left the ring leave: min or max (NaN: none), the
    // first's or last's value and time, the distinct values.
    double[] evNum;
    Object[] evObj;
    long[] evTime;
    Set<Object>[] evDistinct;

    // The ring, oldest first, in (event time, arrival) order.
    int size;
    long[] times = new long[0];

    /** Per aggregate that keeps doubles: each event's value; NaN when it does not count. */
    double[][] num;

    /** Per aggregate that keeps objects: each event's value; {@link #EXCLUDED} when it does not. */
    Object[][] obj;

    // Re-sends: the newest ids (as 64-bit hashes), their arrival times and first feature rows.
    long[] seenIds = new long[0];
    long[] seenTimes = new long[0];
    float[][] seenFeatures = new float[0][];
    int seenSize;
    long spilledUntil;

    @SuppressWarnings("unchecked")
    KeyState(int aggregates, int columns) {
        runCount = new double[aggregates];
        runSum = new double[aggregates];
        runMean = new double[aggregates];
        evNum = new double[aggregates];
        Arrays.fill(evNum, Double.NaN);
        evObj = new Object[aggregates];
        evTime = new long[aggregates];
        Arrays.fill(evTime, Long.MIN_VALUE);
        evDistinct = new Set[aggregates];
        num = new double[columns][];
        obj = new Object[columns][];
    }

    /** Events of this key received so far (re-sends not counted). */
    public long received() {
        return received;
    }

    /** Events in the ring. */
    public int recentEvents() {
        return size;
    }

    Set<Object> evictedDistinct(int a) {
        if (evDistinct[a] == null) {
            evDistinct[a] = new HashSet<>();
        }
        return evDistinct[a];
    }

    /** Where {@link #remember} puts the ids it moves out of the inline list inside the window. */
    @FunctionalInterface
    public interface Spill {
        void spill(long idHash, long arrivedAt, float[] features) throws Exception;
    }

    /**
     * The 64-bit hash by which a key remembers an event id: FNV-1a over its characters, then the
     * SplitMix64 finalizer. Two ids of one key in one dedup window collide with a probability of
     * about 2^-64 per pair.
     */
    public static long idHash(String id) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < id.length(); i++) {
            h ^= id.charAt(i);
            h *= 0x100000001b3L;
        }
        h ^= id.length();
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        return h ^ (h >>> 31);
    }

    /**
     * The feature row the event whose id has {@code idHash} was given, if the key saw it less than
     * {@code window} milliseconds before {@code now} (processing time) and still remembers it;
     * {@code null} otherwise.
     */
    public float[] featuresOf(long idHash, long now, long window) {
        long horizon = now - window;
        for (int i = seenSize - 1; i >= 0; i--) {
            if (seenIds[i] == idHash && seenTimes[i] > horizon) {
                return seenFeatures[i];
            }
        }
        return null;
    }

    /** Whether an id not in the inline list may be in the spill state. */
    public boolean mayHaveSpilled(long now, long window) {
        return spilledUntil > now - window;
    }

    /**
     * Remembers the event whose id has {@code idHash}, arrived at {@code now}, with its features,
     * and forgets the ids that arrived {@code window} or more before. Beyond the newest {@link
     * #MAX_SEEN}, the oldest ids still inside the window go to {@code spill} ({@code null}: forget
     * them).
     */
    public void remember(long idHash, long now, float[] features, long window, Spill spill)
            throws Exception {
        long horizon = now - window;
        int drop = Math.max(0, seenSize + 1 - MAX_SEEN);
        int first = 0;
        while (first < seenSize && (first < drop || seenTimes[first] <= horizon)) {
            if (seenTimes[first] > horizon && spill != null) {
                spill.spill(seenIds[first], seenTimes[first], seenFeatures[first]);
                spilledUntil = Math.max(spilledUntil, seenTimes[first]);
            }
            first++;
        }
        if (first > 0) {
            int keep = seenSize - first;
            System.arraycopy(seenIds, first, seenIds, 0, keep);
            System.arraycopy(seenTimes, first, seenTimes, 0, keep);
            System.arraycopy(seenFeatures, first, seenFeatures, 0, keep);
            Arrays.fill(seenFeatures, keep, seenSize, null);
            seenSize = keep;
        }
        if (seenSize == seenIds.length) {
            int capacity = Math.min(MAX_SEEN, Math.max(2, seenSize * 2));
            seenIds = Arrays.copyOf(seenIds, capacity);
            seenTimes = Arrays.copyOf(seenTimes, capacity);
            seenFeatures = Arrays.copyOf(seenFeatures, capacity);
        }
        seenIds[seenSize] = idHash;
        seenTimes[seenSize] = now;
        seenFeatures[seenSize] = features;
        seenSize++;
    }
}
