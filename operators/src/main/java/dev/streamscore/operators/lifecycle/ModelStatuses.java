package dev.streamscore.operators.lifecycle;

import dev.streamscore.schemas.ModelAction;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelRole;
import dev.streamscore.schemas.ModelState;
import dev.streamscore.schemas.ModelStatus;
import java.time.Instant;
import org.apache.flink.util.OutputTag;

/**
 * The status records an inference subtask writes about its models, on the side output {@link #TAG},
 * which the job writes to the status topic.
 */
public final class ModelStatuses {

    /** Side output of the inference operator's status records. */
    public static final OutputTag<ModelStatus> TAG = new OutputTag<>("model-status") {};

    /** Longest reason kept, in characters. */
    static final int MAX_REASON_CHARS = 4096;

    private ModelStatuses() {}

    /**
     * A status answering {@code command} about the model {@code model} names (a deploy command;
     * {@code null} for a refused command naming none).
     */
    public static ModelStatus of(
            ModelCommand command,
            ModelCommand model,
            ModelState state,
            String reason,
            int subtask,
            int parallelism,
            long atMillis,
            Long firstScoredAtMillis) {
        ModelCommand named = model == null ? command : model;
        return ModelStatus.newBuilder()
                .setCommandId(cut(command.getCommandId(), 256))
                .setAction(command.getAction() == null ? ModelAction.DEPLOY : command.getAction())
                .setRole(command.getRole() == null ? ModelRole.CHAMPION : command.getRole())
                .setState(state)
                .setModelName(cut(named.getModelName(), 256))
                .setModelVersion(cut(named.getModelVersion(), 256))
                .setSha256(cut(named.getSha256(), 64))
                .setReason(cut(reason, MAX_REASON_CHARS))
                .setSubtask(subtask)
                .setParallelism(parallelism)
                .setAt(Instant.ofEpochMilli(atMillis))
                .setFirstScoredAt(
                        firstScoredAtMillis == null
                                ? null
                                : Instant.ofEpochMilli(firstScoredAtMillis))
                .build();
    }

    private static String cut(String value, int max) {
        return value == null || value.length() <= max ? value : value.substring(0, max);
    }
}
