package dev.streamscore.operators.serde;

import dev.streamscore.schemas.Transaction;
import java.time.Instant;
import java.util.regex.Pattern;

/**
 * Checks the meaning of a decoded transaction: what Avro's types cannot say (a four-digit merchant
 * category, an ISO currency and country, a positive amount, a plausible time).
 *
 * <pre>{@code
 * String problem = TransactionValidator.problemWith(txn); // null when valid
 * }</pre>
 */
public final class TransactionValidator {

    /** Earliest event time accepted; anything before is a unit or encoding mistake. */
    public static final Instant EARLIEST = Instant.parse("2000-01-01T00:00:00Z");

    /** Largest amount accepted, in minor units (10 billion in major units). */
    public static final long MAX_AMOUNT_MINOR = 1_000_000_000_000L;

    private static final Pattern MCC = Pattern.compile("[0-9]{4}");
    private static final Pattern CURRENCY = Pattern.compile("[A-Z]{3}");
    private static final Pattern COUNTRY = Pattern.compile("[A-Z]{2}");

    private TransactionValidator() {}

    /** What is wrong with {@code txn}, as "field: expected ..., found ...", or null if nothing. */
    public static String problemWith(Transaction txn) {
        if (isBlank(txn.getTransactionId())) {
            return "transaction_id: expected a non-empty id, found '"
                    + txn.getTransactionId()
                    + "'";
        }
        if (isBlank(txn.getCardId())) {
            return "card_id: expected a non-empty id, found '" + txn.getCardId() + "'";
        }
        if (isBlank(txn.getMerchantId())) {
            return "merchant_id: expected a non-empty id, found '" + txn.getMerchantId() + "'";
        }
        if (!MCC.matcher(txn.getMerchantCategory()).matches()) {
            return "merchant_category: expected a four-digit ISO 18245 code, found '"
                    + txn.getMerchantCategory()
                    + "'";
        }
        if (txn.getAmountMinor() <= 0 || txn.getAmountMinor() > MAX_AMOUNT_MINOR) {
            return "amount_minor: expected 1.."
                    + MAX_AMOUNT_MINOR
                    + " minor units, found "
                    + txn.getAmountMinor();
        }
        if (!CURRENCY.matcher(txn.getCurrency()).matches()) {
            return "currency: expected an ISO 4217 code of three capital letters, found '"
                    + txn.getCurrency()
                    + "'";
        }
        if (!COUNTRY.matcher(txn.getCountry()).matches()) {
            return "country: expected an ISO 3166 alpha-2 code of two capital letters, found '"
                    + txn.getCountry()
                    + "'";
        }
        if (txn.getEventTime().isBefore(EARLIEST)) {
            return "event_time: expected a time after "
                    + EARLIEST
                    + ", found "
                    + txn.getEventTime();
        }
        return null;
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }
}
