package dev.streamscore.schemas.serde;

import java.lang.reflect.Method;
import org.apache.avro.SystemLimitException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The most a single Avro string, bytes value or collection may claim while streamscore decodes
 * untrusted input. Avro reads a length prefix and allocates that much before it knows whether the
 * bytes are there, so without limits a 16-byte record claiming a 2 GB string costs 2 GB of heap (or
 * escapes as an {@code UnsupportedOperationException}). With them, the claim fails with Avro's
 * {@link SystemLimitException} before anything is allocated, and the record becomes a dead letter.
 *
 * <p>Avro reads its limits from JVM-wide system properties ({@link
 * SystemLimitException#MAX_STRING_LENGTH_PROPERTY} and its siblings) once, when the class loads.
 * {@link #apply()} sets each one this JVM has not set to the values below, and makes Avro read them
 * again if it had already loaded. A value set with {@code -D} on the JVM wins: a cluster that needs
 * other limits sets them in {@code env.java.opts.taskmanager}.
 */
public final class AvroReaderLimits {

    /** Longest string and bytes value accepted: 16 MiB, the largest {@code max-record-bytes}. */
    public static final int MAX_STRING_BYTES = 16 * 1024 * 1024;

    /** Most items of one array or map accepted. */
    public static final int MAX_COLLECTION_ITEMS = 1_000_000;

    private static final Logger LOG = LoggerFactory.getLogger(AvroReaderLimits.class);
    private static volatile boolean applied;

    private AvroReaderLimits() {}

    /** Sets the limits this JVM has not set and makes Avro use them; cheap after the first call. */
    public static void apply() {
        if (applied) {
            return;
        }
        synchronized (AvroReaderLimits.class) {
            if (applied) {
                return;
            }
            setIfAbsent(SystemLimitException.MAX_STRING_LENGTH_PROPERTY, MAX_STRING_BYTES);
            setIfAbsent(SystemLimitException.MAX_BYTES_LENGTH_PROPERTY, MAX_STRING_BYTES);
            setIfAbsent(SystemLimitException.MAX_COLLECTION_LENGTH_PROPERTY, MAX_COLLECTION_ITEMS);
            if (!enforced()) {
                // Avro read the properties before they were set (another library loaded it first).
                reload();
            }
            if (enforced()) {
                applied = true;
            } else {
                LOG.warn(
                        "Avro does not enforce a string length limit in this JVM: a record that"
                                + " claims a huge string may cost that much heap. Set -D{}={}",
                        SystemLimitException.MAX_STRING_LENGTH_PROPERTY,
                        MAX_STRING_BYTES);
                applied = true;
            }
        }
    }

    /** Whether Avro refuses a string longer than the JVM's configured limit. */
    static boolean enforced() {
        long limit = configured(SystemLimitException.MAX_STRING_LENGTH_PROPERTY);
        try {
            SystemLimitException.checkMaxStringLength(limit + 1);
            return false;
        } catch (SystemLimitException e) {
            return true;
        } catch (UnsupportedOperationException e) {
            // The configured limit is Avro's own ceiling: nothing lower is enforced.
            return false;
        }
    }

    private static long configured(String property) {
        try {
            return Integer.parseUnsignedInt(System.getProperty(property));
        } catch (NumberFormatException e) {
            return MAX_STRING_BYTES;
        }
    }

    private static void setIfAbsent(String property, int value) {
        if (System.getProperty(property) == null) {
            System.setProperty(property, Integer.toString(value));
        }
    }

    private static void reload() {
        try {
            Method reset = SystemLimitException.class.getDeclaredMethod("resetLimits");
            reset.setAccessible(true);
            reset.invoke(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("cannot make Avro re-read its limits", e);
        }
    }
}
