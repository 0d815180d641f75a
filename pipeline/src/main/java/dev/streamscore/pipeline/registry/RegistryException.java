package dev.streamscore.pipeline.registry;

/** A schema registry could not give what was asked; {@link #kind} says why. */
public final class RegistryException extends Exception {

    private static final long serialVersionUID = 1L;

    /** Why. */
    public enum Kind {
        /** The registry does not know the schema id (or subject). */
        NOT_FOUND,
        /** The registry could not be asked: down, too slow, or refusing the credentials. */
        UNAVAILABLE,
        /** The registry answered with something that is not a usable Avro schema or id. */
        INVALID
    }

    private final Kind kind;

    public RegistryException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
