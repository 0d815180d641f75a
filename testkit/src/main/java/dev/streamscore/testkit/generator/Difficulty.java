package dev.streamscore.testkit.generator;

/**
 * How hard the generated fraud is to catch.
 *
 * <ul>
 *   <li>{@link #EASY}: every episode is loud (bursts of probes seconds apart, large spends abroad,
 *       breached cards cashed out on electronics) and every label is the truth. Any model catches
 *       nearly all of it (PR-AUC near 0.99); the demo and the benchmark use it.
 *   <li>{@link #REALISTIC}: about half of the episodes copy the card's own habits, and the labels
 *       are as noisy as chargeback labels are. The default for training and evaluation, where a
 *       model's quality, and what compression costs of it, should show.
 * </ul>
 *
 * <p>What {@link #REALISTIC} adds:
 *
 * <ul>
 *   <li><b>Slow card testing</b>: two to five small probes at the card's usual online merchants, in
 *       its home country, 20 minutes to 3 hours apart.
 *   <li><b>Quiet account takeover</b>: spends at the card's favourite merchants in its home
 *       country, on its own channels, one to three times its usual amount, hours apart.
 *   <li><b>Quiet cash-out of breached cards</b>: ordinary amounts at merchants of the card's home
 *       country.
 *   <li><b>Label noise</b>: {@link #UNREPORTED_FRAUD} of fraud is never reported (labelled
 *       legitimate) and {@link #DISPUTED_GENUINE} of genuine transactions are disputed (labelled
 *       fraud); see {@link GeneratedTransaction#labelledFraud()}.
 * </ul>
 */
public enum Difficulty {
    EASY,
    REALISTIC;

    /** Share of fraud episodes that copy the card's habits under {@link #REALISTIC}. */
    public static final double QUIET_EPISODES = 0.3;

    /** Share of fraudulent transactions labelled legitimate under {@link #REALISTIC}. */
    public static final double UNREPORTED_FRAUD = 0.08;

    /** Share of genuine transactions labelled fraud under {@link #REALISTIC}. */
    public static final double DISPUTED_GENUINE = 0.0004;

    /** Lower-case name, as the command line takes it. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
