package dev.streamscore.tools.bench.handwritten;

import dev.streamscore.schemas.Transaction;
import java.time.Duration;
import java.time.Instant;
import java.util.regex.Pattern;

/**
 * Checks the meaning of a decoded transaction: what Avro's types cannot say (a four-digit merchant
 * category, an ISO currency and country, a positive amount, a plausible time, ids of a sane
 * length).
 *
 * <p>An event time later than the wall clock plus a skew is refused: one such transaction (a
 * microsecond timestamp read as milliseconds) would become its card's newest event and blind the
 * card's time windows to every real transaction after it.
 *
 * <pre>{@code
 * String problem = TransactionValidator.problemWith(txn); // null when valid
 * String problem = TransactionValidator.problemWith(txn, System.currentTimeMillis() + skewMillis);
 * }</pre>
 */
public final class TransactionValidator {

    /** Earliest event time accepted; anything before is a unit or encoding mistake. */
    public static final Instant EARLIEST = Instant.parse("2000-01-01T00:00:00Z");

    /** Largest amount accepted, in minor units (10 billion in major units). */
    public static final long MAX_AMOUNT_MINOR = 1_000_000_000_000L;

    /** How far past the wall clock an event time may be by default. */
    public static final Duration DEFAULT_MAX_CLOCK_SKEW = Duration.ofMinutes(5);

    /** Longest transaction, card and merchant id accepted, in characters. */
    public static final int MAX_ID_CHARS = 128;

    /** Longest device id accepted, in characters. */
    public static final int MAX_DEVICE_ID_CHARS = 256;

    /** Most characters of a rejected value quoted in the problem. */
    private static final int QUOTE_CHARS = 64;

    private static final Pattern MCC = Pattern.compile("[0-9]{4}");
    private static final Pattern CURRENCY = Pattern.compile("[A-Z]{3}");
    private static final Pattern COUNTRY = Pattern.compile("[A-Z]{2}");

    private TransactionValidator() {}

    /**
     * What is wrong with {@code txn}, with event times accepted up to {@link
     * #DEFAULT_MAX_CLOCK_SKEW} past now; null if nothing.
     */
    public static String problemWith(Transaction txn) {
        return problemWith(txn, System.currentTimeMillis() + DEFAULT_MAX_CLOCK_SKEW.toMillis());
    }

    /**
     * What is wrong with {@code txn}, as "field: expected ..., found ...", or null if nothing.
     *
     * @param latestEventTimeMillis the latest event time accepted (the wall clock plus the skew)
     */
    public static String problemWith(Transaction txn, long latestEventTimeMillis) {
        String idProblem =
                firstNonNull(
                        id("transaction_id", txn.getTransactionId()),
                        id("card_id", txn.getCardId()),
                        id("merchant_id", txn.getMerchantId()));
        if (idProblem != null) {
            return idProblem;
        }
        if (!MCC.matcher(txn.getMerchantCategory()).matches()) {
            return "merchant_category: expected a four-digit ISO 18245 code, found "
                    + quote(txn.getMerchantCategory());
        }
        if (txn.getAmountMinor() <= 0 || txn.getAmountMinor() > MAX_AMOUNT_MINOR) {
            return "amount_minor: expected 1.."
                    + MAX_AMOUNT_MINOR
                    + " minor units, found "
                    + txn.getAmountMinor();
        }
        if (!CURRENCY.matcher(txn.getCurrency()).matches()) {
            return "currency: expected an ISO 4217 code of three capital letters, found "
                    + quote(txn.getCurrency());
        }
        if (!COUNTRY.matcher(txn.getCountry()).matches()) {
            return "country: expected an ISO 3166 alpha-2 code of two capital letters, found "
                    + quote(txn.getCountry());
        }
        if (txn.getEventTime().isBefore(EARLIEST)) {
            return "event_time: expected a time after "
                    + EARLIEST
                    + ", found "
                    + txn.getEventTime();
        }
        if (txn.getEventTime().toEpochMilli() > latestEventTimeMillis) {
            return "event_time: expected a time no later than "
                    + Instant.ofEpochMilli(latestEventTimeMillis)
                    + " (now plus the allowed clock skew), found "
                    + txn.getEventTime()
                    + " (a time in microseconds or nanoseconds read as milliseconds?)";
        }
        String device = txn.getDeviceId();
        if (device != null && device.length() > MAX_DEVICE_ID_CHARS) {
            return "device_id: expected at most "
                    + MAX_DEVICE_ID_CHARS
                    + " characters, found "
                    + device.length();
        }
        return null;
    }

    private static String id(String field, String value) {
        if (value == null || value.isBlank()) {
            return field + ": expected a non-empty id, found " + quote(value);
        }
        if (value.length() > MAX_ID_CHARS) {
            return field
                    + ": expected an id of at most "
                    + MAX_ID_CHARS
                    + " characters, found "
                    + value.length()
                    + " characters starting "
                    + quote(value);
        }
        return null;
    }

    private static String firstNonNull(String a, String b, String c) {
        return a != null ? a : b != null ? b : c;
    }

    private static String quote(String value) {
        if (value == null) {
            return "null";
        }
        if (value.length() <= QUOTE_CHARS) {
            return "'" + value + "'";
        }
        return "'" + value.substring(0, QUOTE_CHARS) + "...' (" + value.length() + " characters)";
    }
}
