package dev.streamscore.pipeline.expr;

/** An expression that has no value for an event: an int overflow, a division by zero, a null. */
public final class EvalException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public EvalException(String message) {
        super(message);
    }

    public EvalException(String message, Throwable cause) {
        super(message, cause);
    }
}
