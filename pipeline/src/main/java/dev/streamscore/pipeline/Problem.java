package dev.streamscore.pipeline;

import java.io.Serializable;

/**
 * One thing wrong with a pipeline file: where (its line, 1-based; 0 when the file as a whole), what
 * is wrong, and what would fix it.
 */
public record Problem(String file, int line, String message, String fix) implements Serializable {

    /** {@code file:line: message (fix)}, as a compiler says it. */
    @Override
    public String toString() {
        return file
                + (line > 0 ? ":" + line : "")
                + ": "
                + message
                + (fix == null || fix.isEmpty() ? "" : "\n    fix: " + fix);
    }
}
