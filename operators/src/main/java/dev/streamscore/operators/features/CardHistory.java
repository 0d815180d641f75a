package dev.streamscore.operators.features;

/**
 * What streamscore remembers about one card: its home country, its previous transaction, its
 * running average amount, and the transactions of the last 24 hours (a bounded ring, oldest first).
 * Kept in keyed state; a Flink POJO so it is serialized without Kryo.
 *
 * <p>Fields are public for Flink's POJO serializer; change them only through {@link CardFeatures}.
 */
public class CardHistory {

    /** Most recent transactions kept per card; older ones beyond this are forgotten. */
    public static final int MAX_RECENT = 512;

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

    public CardHistory() {}
}
