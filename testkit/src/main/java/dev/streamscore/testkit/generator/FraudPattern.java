package dev.streamscore.testkit.generator;

/** The label of a generated transaction: legitimate, or which fraud pattern produced it. */
public enum FraudPattern {
    /** Ordinary spending from the card's own profile. */
    NONE,
    /** Bursts of small e-commerce amounts, seconds apart, probing whether a stolen card works. */
    CARD_TESTING,
    /** A taken-over card spending large amounts abroad in rapid succession. */
    ACCOUNT_TAKEOVER,
    /** Cards that used a breached merchant, later spent on electronics and jewellery abroad. */
    MERCHANT_COMPROMISE;

    public boolean isFraud() {
        return this != NONE;
    }

    /** Lower-case name, as written in training data. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
