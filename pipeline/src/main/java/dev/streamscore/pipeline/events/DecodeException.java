package dev.streamscore.pipeline.events;

/** A record that is not an event of the pipeline's schema; the message says what is wrong. */
public final class DecodeException extends Exception {
    private static final long serialVersionUID = 1L;

    public DecodeException(String message) {
        super(message);
    }

    public DecodeException(String message, Throwable cause) {
        super(message, cause);
    }
}
