package dev.streamscore.pipeline.features;

/**
 * An event whose features cannot be computed: a check that failed, an expression with no value, a
 * feature that is not a finite float. The event becomes a VALIDATE dead letter with this message;
 * {@link #subject()} names the check, aggregate or feature.
 */
public final class FeatureException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String subject;

    public FeatureException(String subject, String message) {
        super(message);
        this.subject = subject;
    }

    public FeatureException(String subject, String message, Throwable cause) {
        super(message, cause);
        this.subject = subject;
    }

    /**
     * What failed: {@code check 'amount_minor > 0'}, {@code aggregate sum_24h}, {@code feature
     * amount_log}.
     */
    public String subject() {
        return subject;
    }
}
