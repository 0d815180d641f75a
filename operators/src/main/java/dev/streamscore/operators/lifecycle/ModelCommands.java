package dev.streamscore.operators.lifecycle;

import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.schemas.ModelAction;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelRole;
import java.time.Instant;
import java.util.Locale;
import java.util.UUID;

/**
 * Building and checking {@link ModelCommand}s: shared by the job, which applies them, and {@code
 * streamscore model}, which writes them, so both agree on what a valid command is.
 *
 * <pre>{@code
 * ModelCommand deploy = ModelCommands.deploy(descriptor, "/models/gbdt-2026-12-02", ModelRole.CHAMPION, "ops@host");
 * String problem = ModelCommands.problemWith(deploy); // null: valid
 * }</pre>
 */
public final class ModelCommands {

    /**
     * Command id of the models the job was started with ({@code --model}, {@code
     * --challenger-model}).
     */
    public static final String JOB_CONFIG = "job-config";

    /** Command id of the status records a restored subtask writes for the models it restored. */
    public static final String RESTORE = "restore";

    private static final int MAX_FIELD_CHARS = 4096;

    private ModelCommands() {}

    /** A command deploying the model {@code descriptor} describes, found at {@code location}. */
    public static ModelCommand deploy(
            ModelDescriptor descriptor, String location, ModelRole role, String issuedBy) {
        return deploy(
                UUID.randomUUID().toString(),
                descriptor.name(),
                descriptor.version(),
                location,
                descriptor.sha256(),
                role,
                issuedBy);
    }

    public static ModelCommand deploy(
            String commandId,
            String name,
            String version,
            String location,
            String sha256,
            ModelRole role,
            String issuedBy) {
        return ModelCommand.newBuilder()
                .setCommandId(commandId)
                .setAction(ModelAction.DEPLOY)
                .setRole(role)
                .setModelName(name)
                .setModelVersion(version)
                .setLocation(location)
                .setSha256(sha256)
                .setIssuedAt(Instant.now())
                .setIssuedBy(issuedBy)
                .build();
    }

    /** A command returning to the champion before the current one. */
    public static ModelCommand rollback(String issuedBy) {
        return plain(ModelAction.ROLLBACK, ModelRole.CHAMPION, issuedBy);
    }

    /** A command stopping the challenger. */
    public static ModelCommand retireChallenger(String issuedBy) {
        return plain(ModelAction.RETIRE, ModelRole.CHALLENGER, issuedBy);
    }

    private static ModelCommand plain(ModelAction action, ModelRole role, String issuedBy) {
        return ModelCommand.newBuilder()
                .setCommandId(UUID.randomUUID().toString())
                .setAction(action)
                .setRole(role)
                .setIssuedAt(Instant.now())
                .setIssuedBy(issuedBy)
                .build();
    }

    /**
     * {@code name:version@<first 16 hex digits of the SHA-256>}, as {@link
     * ModelDescriptor#identity}.
     */
    public static String identity(ModelCommand deploy) {
        String sha = deploy.getSha256() == null ? "?" : deploy.getSha256().toLowerCase(Locale.ROOT);
        return deploy.getModelName()
                + ":"
                + deploy.getModelVersion()
                + "@"
                + sha.substring(0, Math.min(16, sha.length()));
    }

    /** {@code name:version}, as {@link ModelDescriptor#id}. */
    public static String id(ModelCommand deploy) {
        return deploy.getModelName() + ":" + deploy.getModelVersion();
    }

    /**
     * Why {@code command} cannot be applied whatever the state (a missing field, a malformed
     * SHA-256, an action the role does not take), or {@code null} when it is well formed.
     */
    public static String problemWith(ModelCommand command) {
        if (command.getCommandId() == null || command.getCommandId().isBlank()) {
            return "command_id must be set, found none";
        }
        if (command.getCommandId().length() > 256) {
            return "command_id must be at most 256 characters, found "
                    + command.getCommandId().length();
        }
        switch (command.getAction()) {
            case DEPLOY -> {
                for (String[] field :
                        new String[][] {
                            {"model_name", command.getModelName()},
                            {"model_version", command.getModelVersion()},
                            {"location", command.getLocation()},
                            {"sha256", command.getSha256()}
                        }) {
                    if (field[1] == null || field[1].isBlank()) {
                        return "a deploy must give " + field[0] + ", found none";
                    }
                    if (field[1].length() > MAX_FIELD_CHARS) {
                        return field[0]
                                + " must be at most "
                                + MAX_FIELD_CHARS
                                + " characters, found "
                                + field[1].length();
                    }
                }
                if (!command.getSha256().matches("[0-9a-fA-F]{64}")) {
                    return "sha256 must be 64 hex digits (sha256sum model.onnx), found '"
                            + abbreviate(command.getSha256())
                            + "'";
                }
                return null;
            }
            case ROLLBACK -> {
                return command.getRole() == ModelRole.CHAMPION
                        ? null
                        : "rollback returns to the previous champion; a challenger is retired"
                                + " (retire) or replaced (deploy --role challenger)";
            }
            case RETIRE -> {
                return command.getRole() == ModelRole.CHALLENGER
                        ? null
                        : "a champion cannot be retired, the job must score with one: deploy"
                                + " another champion or roll back";
            }
            default -> {
                return "unknown action " + command.getAction();
            }
        }
    }

    private static String abbreviate(String value) {
        return value.length() <= 80 ? value : value.substring(0, 80) + "...";
    }
}
