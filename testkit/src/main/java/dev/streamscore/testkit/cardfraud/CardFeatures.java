package dev.streamscore.testkit.cardfraud;

import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.Transaction;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The model's input: a card's transaction turned into a feature vector from the card's history. One
 * pure function, {@link #computeAndUpdate}, used alike by the streaming job (with the history in
 * keyed state), by training-data export and by tests, so that training and serving can never
 * disagree.
 *
 * <p>Windows are relative to the transaction's event time and count only the card's earlier
 * transactions: a transaction never counts itself.
 *
 * <p>Out-of-order events: a transaction older than the card's newest one (a late event) is scored
 * as of its own time. Its windows count the remembered transactions before it; its "previous"
 * transaction (seconds since, country changed) is the latest remembered one before it, or none if
 * none is remembered. It joins the card's history in time order, so later transactions count it in
 * their windows, but it never becomes the card's previous transaction or country: those stay the
 * newest event's. A transaction older than 24 h before the newest counts in the card's totals only.
 * Event times far in the future never get here ({@code TransactionValidator}).
 *
 * <pre>{@code
 * CardHistory history = new CardHistory();
 * float[] features = CardFeatures.computeAndUpdate(history, txn);
 * }</pre>
 */
public final class CardFeatures {

    /** Feature names, in model input order. A model's descriptor must list exactly these. */
    public static final List<String> NAMES =
            List.of(
                    "amount_log",
                    "card_present",
                    "channel_ecom",
                    "channel_atm",
                    "high_risk_mcc",
                    "hour_sin",
                    "hour_cos",
                    "txn_count_1h",
                    "txn_count_24h",
                    "amount_sum_1h_log",
                    "amount_sum_24h_log",
                    "secs_since_prev_log",
                    "country_changed",
                    "foreign",
                    "amount_to_avg_log",
                    "small_ecom_count_1h",
                    "distinct_countries_24h",
                    "history_count_log");

    public static final int COUNT = NAMES.size();

    /**
     * Rows every model must score to a probability before it serves (see {@code ModelLoader}): a
     * card's first small purchase in a shop at noon, and a busy card testing small online amounts
     * abroad at night. In {@link #NAMES} order.
     */
    public static final float[][] PROBE_ROWS = {
        {3.9f, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
        {0.7f, 0, 1, 0, 1, -0.5f, 0.87f, 12, 30, 2.4f, 3.5f, 3.0f, 1, 1, -2.0f, 10, 4, 5.0f},
    };

    /**
     * Merchant categories with high fraud exposure: digital goods, gambling, money transfer,
     * quasi-cash, jewellery, electronics.
     */
    public static final Set<String> HIGH_RISK_MCC =
            Set.of("5967", "7995", "4829", "6051", "6540", "5944", "5732", "5816", "6211");

    /** An e-commerce amount below this (in minor units) is the kind card testers use. */
    public static final long SMALL_AMOUNT_MINOR = 500;

    /** Value of {@code secs_since_prev_log} for a card's first transaction: log1p(30 days). */
    public static final float NO_PREVIOUS_SECS_LOG = (float) Math.log1p(30 * 24 * 3600.0);

    private static final long HOUR = 3_600_000L;
    private static final long DAY = 24 * HOUR;

    private CardFeatures() {}

    /**
     * Computes the features of {@code txn} from {@code history}, then records {@code txn} in the
     * history.
     */
    public static float[] computeAndUpdate(CardHistory history, Transaction txn) {
        long now = txn.getEventTime().toEpochMilli();
        long amount = txn.getAmountMinor();
        int country = packCountry(txn.getCountry());
        boolean ecom = txn.getChannel() == Channel.ECOM;
        boolean first = history.transactionCount == 0;

        int count1h = 0;
        int count24h = 0;
        long sum1h = 0;
        long sum24h = 0;
        int smallEcom1h = 0;
        int[] countries = new int[Math.min(history.recentSize, 64)];
        int distinct = 0;
        for (int i = 0; i < history.recentSize; i++) {
            long t = history.recentTimes[i];
            if (t > now || t <= now - DAY) {
                continue;
            }
            count24h++;
            sum24h += history.recentAmounts[i];
            int c = history.recentCountries[i];
            if (distinct < countries.length && indexOf(countries, distinct, c) < 0) {
                countries[distinct++] = c;
            }
            if (t > now - HOUR) {
                count1h++;
                sum1h += history.recentAmounts[i];
                if (history.recentSmallEcom[i]) {
                    smallEcom1h++;
                }
            }
        }

        double hour = ((now % DAY) + DAY) % DAY / (double) HOUR;
        // The transaction before this one: the card's newest, unless this one is late.
        boolean hasPrevious = !first;
        long previousTime = history.previousEventTime;
        int previousCountry = history.previousCountry;
        if (!first && now < history.previousEventTime) {
            int before = latestAtOrBefore(history, now);
            hasPrevious = before >= 0;
            if (hasPrevious) {
                previousTime = history.recentTimes[before];
                previousCountry = history.recentCountries[before];
            }
        }
        double secsSincePrev = hasPrevious ? (now - previousTime) / 1000.0 : -1;

        float[] f = new float[COUNT];
        f[0] = (float) Math.log1p(amount / 100.0);
        f[1] = txn.getCardPresent() ? 1f : 0f;
        f[2] = ecom ? 1f : 0f;
        f[3] = txn.getChannel() == Channel.ATM ? 1f : 0f;
        f[4] = HIGH_RISK_MCC.contains(txn.getMerchantCategory()) ? 1f : 0f;
        f[5] = (float) Math.sin(2 * Math.PI * hour / 24);
        f[6] = (float) Math.cos(2 * Math.PI * hour / 24);
        f[7] = count1h;
        f[8] = count24h;
        f[9] = (float) Math.log1p(sum1h / 100.0);
        f[10] = (float) Math.log1p(sum24h / 100.0);
        f[11] = hasPrevious ? (float) Math.log1p(secsSincePrev) : NO_PREVIOUS_SECS_LOG;
        f[12] = hasPrevious && previousCountry != country ? 1f : 0f;
        f[13] = !first && history.homeCountry != country ? 1f : 0f;
        f[14] = first ? 0f : (float) Math.log((amount + 100.0) / (history.meanAmountMinor + 100.0));
        f[15] = smallEcom1h;
        f[16] = distinct;
        f[17] = (float) Math.log1p(history.transactionCount);

        record(history, now, amount, country, ecom && amount < SMALL_AMOUNT_MINOR);
        return f;
    }

    /** Two ASCII letters packed into an int; anything else packs to its hash. */
    public static int packCountry(String country) {
        return country.length() == 2
                ? (country.charAt(0) << 8) | country.charAt(1)
                : country.hashCode();
    }

    private static void record(
            CardHistory h, long now, long amount, int country, boolean smallEcom) {
        if (h.transactionCount == 0) {
            h.homeCountry = country;
        }
        h.meanAmountMinor += (amount - h.meanAmountMinor) / (h.transactionCount + 1);
        boolean late = h.transactionCount > 0 && now < h.previousEventTime;
        h.transactionCount++;
        if (!late) {
            h.previousCountry = country;
            h.previousEventTime = now;
        }

        // Forget what fell out of the 24 h window of the newest event, then append.
        long horizon = h.previousEventTime - DAY;
        int keep = 0;
        for (int i = 0; i < h.recentSize; i++) {
            if (h.recentTimes[i] > horizon) {
                h.recentTimes[keep] = h.recentTimes[i];
                h.recentAmounts[keep] = h.recentAmounts[i];
                h.recentCountries[keep] = h.recentCountries[i];
                h.recentSmallEcom[keep] = h.recentSmallEcom[i];
                keep++;
            }
        }
        h.recentSize = keep;
        if (now <= horizon) {
            return; // outside every window of the newest event: nothing left to count it in
        }
        if (h.recentSize == CardHistory.MAX_RECENT) {
            shiftOutOldest(h);
        }
        if (h.recentSize == h.recentTimes.length) {
            int capacity = Math.min(CardHistory.MAX_RECENT, Math.max(4, h.recentSize * 2));
            h.recentTimes = Arrays.copyOf(h.recentTimes, capacity);
            h.recentAmounts = Arrays.copyOf(h.recentAmounts, capacity);
            h.recentCountries = Arrays.copyOf(h.recentCountries, capacity);
            h.recentSmallEcom = Arrays.copyOf(h.recentSmallEcom, capacity);
        }
        // Keep the ring in time order: a late event goes before the newer ones.
        int i = h.recentSize++;
        while (i > 0 && h.recentTimes[i - 1] > now) {
            h.recentTimes[i] = h.recentTimes[i - 1];
            h.recentAmounts[i] = h.recentAmounts[i - 1];
            h.recentCountries[i] = h.recentCountries[i - 1];
            h.recentSmallEcom[i] = h.recentSmallEcom[i - 1];
            i--;
        }
        h.recentTimes[i] = now;
        h.recentAmounts[i] = amount;
        h.recentCountries[i] = country;
        h.recentSmallEcom[i] = smallEcom;
    }

    /** Index of the latest remembered transaction at or before {@code time}, or -1. */
    private static int latestAtOrBefore(CardHistory h, long time) {
        for (int i = h.recentSize - 1; i >= 0; i--) {
            if (h.recentTimes[i] <= time) {
                return i;
            }
        }
        return -1;
    }

    private static void shiftOutOldest(CardHistory h) {
        int n = h.recentSize - 1;
        System.arraycopy(h.recentTimes, 1, h.recentTimes, 0, n);
        System.arraycopy(h.recentAmounts, 1, h.recentAmounts, 0, n);
        System.arraycopy(h.recentCountries, 1, h.recentCountries, 0, n);
        System.arraycopy(h.recentSmallEcom, 1, h.recentSmallEcom, 0, n);
        h.recentSize = n;
    }

    private static int indexOf(int[] values, int size, int value) {
        for (int i = 0; i < size; i++) {
            if (values[i] == value) {
                return i;
            }
        }
        return -1;
    }
}
