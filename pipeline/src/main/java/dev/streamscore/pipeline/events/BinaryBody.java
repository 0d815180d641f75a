package dev.streamscore.pipeline.events;

import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Reads Avro's binary encoding from a byte array, as strictly as Avro's {@code BinaryDecoder}: a
 * body that ends early, a variable-length number longer than its type allows or a negative length
 * throws an {@link IOException}. Written here rather than taken from Avro because Avro's decoder
 * makes a {@code Utf8} and then a {@code String} of every string it reads, and allocates its byte
 * source on every reuse; the event reader needs neither (see {@link Strings}).
 *
 * <p>Not thread-safe; reset with {@link #of} for each body.
 */
final class BinaryBody {

    private byte[] buf;
    private int pos;
    private int limit;

    BinaryBody of(byte[] body, int offset, int length) throws IOException {
        if (offset < 0 || length < 0 || offset > body.length - length) {
            throw new EOFException(
                    "body of " + length + " bytes at " + offset + " of " + body.length);
        }
        this.buf = body;
        this.pos = offset;
        this.limit = offset + length;
        return this;
    }

    long readLong() throws IOException {
        long raw = 0;
        for (int shift = 0; ; shift += 7) {
            if (shift > 63) {
                throw new IOException("invalid long encoding: more than 10 bytes");
            }
            byte b = next();
            raw |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                break;
            }
        }
        return (raw >>> 1) ^ -(raw & 1);
    }

    int readInt() throws IOException {
        int raw = 0;
        for (int shift = 0; ; shift += 7) {
            if (shift > 28) {
                throw new IOException("invalid int encoding: more than 5 bytes");
            }
            byte b = next();
            raw |= (b & 0x7F) << shift;
            if (b >= 0) {
                break;
            }
        }
        return (raw >>> 1) ^ -(raw & 1);
    }

    boolean readBoolean() throws IOException {
        return next() == 1;
    }

    float readFloat() throws IOException {
        ensure(4);
        int bits =
                (buf[pos] & 0xFF)
                        | (buf[pos + 1] & 0xFF) << 8
                        | (buf[pos + 2] & 0xFF) << 16
                        | (buf[pos + 3] & 0xFF) << 24;
        pos += 4;
        return Float.intBitsToFloat(bits);
    }

    double readDouble() throws IOException {
        ensure(8);
        long bits = 0;
        for (int i = 7; i >= 0; i--) {
            bits = bits << 8 | (buf[pos + i] & 0xFF);
        }
        pos += 8;
        return Double.longBitsToDouble(bits);
    }

    /** Length of the bytes that follow; they then start at {@link #position}. */
    int readBytesLength() throws IOException {
        return checkedLength(false);
    }

    /**
     * Length of the string that follows; it then starts at {@link #position}. Avro's string limit
     * ({@code org.apache.avro.limits.string.maxLength}) applies, as in Avro's reader.
     */
    int readLength() throws IOException {
        return checkedLength(true);
    }

    private int checkedLength(boolean string) throws IOException {
        long n = readLong();
        if (n < 0) {
            throw new IOException("negative length " + n);
        }
        try {
            if (string) {
                org.apache.avro.SystemLimitException.checkMaxStringLength(n);
            } else {
                org.apache.avro.SystemLimitException.checkMaxBytesLength(n);
            }
        } catch (RuntimeException e) { // Avro's limits, as its reader applies them
            throw new IOException(e.getMessage(), e);
        }
        if (n > limit - pos) {
            throw new EOFException("length " + n + " with " + (limit - pos) + " bytes left");
        }
        return (int) n;
    }

    int position() {
        return pos;
    }

    byte[] buffer() {
        return buf;
    }

    void skip(int n) {
        pos += n; // readLength checked it
    }

    private byte next() throws IOException {
        if (pos >= limit) {
            throw new EOFException("body ended early");
        }
        return buf[pos++];
    }

    private void ensure(int n) throws IOException {
        if (limit - pos < n) {
            throw new EOFException("body ended early");
        }
    }

    /**
     * One string field's values, each kept as one {@code String} while the field has few of them
     * (countries, currencies, channels): a repeated value is found by its bytes, no string made,
     * and the ring and distinct counts then compare it by identity. A field with more distinct
     * values than it holds (ids) stops keeping them and makes a new string each time.
     */
    static final class Strings {
        private static final int SLOTS = 2048; // a power of two
        private static final int MAX_VALUES = SLOTS / 2;

        /** Longer values are not kept: at most 1,024 of 64 bytes a field, whatever comes. */
        private static final int MAX_KEPT_BYTES = 64;

        private byte[][] keys = new byte[SLOTS][];
        private String[] values = new String[SLOTS];
        private int size;

        String read(BinaryBody in) throws IOException {
            int n = in.readLength();
            byte[] b = in.buffer();
            int at = in.position();
            in.skip(n);
            if (keys == null || n > MAX_KEPT_BYTES) {
                return new String(b, at, n, StandardCharsets.UTF_8);
            }
            int h = 0x811C9DC5;
            for (int i = at; i < at + n; i++) {
                h = (h ^ b[i]) * 0x01000193;
            }
            h ^= h >>> 16;
            for (int slot = h & (SLOTS - 1); ; slot = (slot + 1) & (SLOTS - 1)) {
                byte[] k = keys[slot];
                if (k == null) {
                    String s = new String(b, at, n, StandardCharsets.UTF_8);
                    if (size == MAX_VALUES) {
                        keys = null; // too many values: not worth keeping
                        values = null;
                    } else {
                        keys[slot] = java.util.Arrays.copyOfRange(b, at, at + n);
                        values[slot] = s;
                        size++;
                    }
                    return s;
                }
                if (k.length == n && java.util.Arrays.equals(k, 0, n, b, at, at + n)) {
                    return values[slot];
                }
            }
        }
    }
}
