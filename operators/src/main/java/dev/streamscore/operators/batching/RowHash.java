package dev.streamscore.operators.batching;

/**
 * The 64-bit hash a model input row is cached and coalesced under (FNV-1a over the floats' bits,
 * with a final mix per float). Rows compare bit for bit, as {@link java.util.Arrays#equals(float[],
 * float[])} does; the hash is part of the savepoint format of the score cache, so it never changes.
 */
public final class RowHash {

    private RowHash() {}

    public static long of(float[] row) {
        long h = 0xcbf29ce484222325L;
        for (float f : row) {
            h ^= Float.floatToIntBits(f);
            h *= 0x100000001b3L;
            h ^= h >>> 29;
        }
        return h;
    }
}
