package dev.streamscore.testkit.cardfraud;

import java.util.Arrays;

/**
 * What streamscore remembers about one card: its home country, its previous transaction, its
 * running average amount, the transactions of the last 24 hours (a bounded ring, oldest first), and
 * the ids and feature vectors of its newest transactions, so that a re-sent one gets its first
 * vector. Kept in keyed state with {@link CardHistorySerializer}, one read and at most one write
 * per transaction.
 *
 * <p>Fields are public (the serializer of savepoints written before {@link CardHistorySerializer},
 * Flink's POJO serializer, reads them by name); change them only through {@link CardFeatures} and
 * {@link #remember}.
 */
public class CardHistory {

    /** Most recent transactions kept per card; older ones beyond this are forgotten. */
    public static final int MAX_RECENT = 512;

    /** Most transaction ids kept per card for recognising re-sends; the oldest go first. */
    public static final int MAX_SEEN = 64;

    /** Country of the card's first transaction, packed by {@link CardFeatures#packCountry}. */
    public int homeCountry;

    public int previousCountry;
    public long previousEventTime;
    public long transactionCount;
    public double meanAmountMinor;

    /** Recent transactions within 24 h of the newest, oldest first, {@code recentSize} of them. */
    public long[] recentTimes = new long[0];

    public long[] recentAmounts = new long[0];
    public int[] recentCountries = new int[0];
    public boolean[] recentSmallEcom = new boolean[0];
    public int recentSize;

    /**
     * The card's newest transactions, in arrival order, {@code seenSize} of them, as the {@link
     * #idHash} of each id, with each one's arrival (processing) time and the feature vector it was
     * scored with.
     */
    public long[] seenIds = new long[0];

    public long[] seenTimes = new long[0];
    public float[][] seenFeatures = new float[0][];
    public int seenSize;

    /**
     * Arrival time of the newest id that left the inline list above for the enricher's spill state
     * while still inside the dedup window (its card had more than {@link #MAX_SEEN} transactions in
     * one window); 0 if none did.
     */
    public long spilledUntil;

    /** Where {@link #remember} puts the ids it moves out of the inline list inside the window. */
    @FunctionalInterface
    public interface Spill {
        void spill(long idHash, long arrivedAt, float[] features) throws Exception;
    }

    /**
     * The 64-bit hash by which the card remembers a transaction id: FNV-1a over its characters,
     * then the SplitMix64 finalizer to spread the bits. Two ids of one card in one dedup window
     * collide with a probability of about 2^-64 per pair; ids come from the payment systems that
     * issue them, not from the cardholder. A long compares in one instruction where two UUID
     * strings compare character by character, and takes 8 bytes in the state instead of 37.
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

    public CardHistory() {}

    /**
     * The feature vector the transaction whose id has {@code idHash} was given, if the card saw it
     * less than {@code window} milliseconds before {@code now} (both in processing time) and still
     * remembers it; {@code null} otherwise.
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

    /**
     * Whether an id not in the inline list may be in the spill state: one left it less than {@code
     * window} before {@code now}.
     */
    public boolean mayHaveSpilled(long now, long window) {
        return spilledUntil > now - window;
    }

    /**
     * Remembers the transaction whose id has {@code idHash}, arrived at {@code now} (processing
     * time), with its features, and forgets the ids that arrived {@code window} or more before
     * {@code now}. Beyond the newest {@link #MAX_SEEN}, the oldest ids still inside the window go
     * to {@code spill} (which may be {@code null} to forget them).
     */
    public void remember(long idHash, long now, float[] features, long window, Spill spill)
            throws Exception {
        long horizon = now - window;
        int drop = Math.max(0, seenSize + 1 - MAX_SEEN);
        // Oldest first: forget the leading ids beyond the count (spilling those still inside the
        // window) and the leading ones out of the window. One arraycopy, no per-entry shuffling; an
        // id expired behind a newer one (a clock that stepped back) waits for its turn, and
        // featuresOf checks the time anyway.
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
