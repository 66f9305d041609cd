namespace Retro.Engine.Sampling;

/// <summary>Why generation ended (persisted in API responses by name; do not renumber).</summary>
public enum StopReason
{
    /// <summary>Not stopped: keep generating.</summary>
    None = 0,

    /// <summary>The maximum number of new tokens was reached.</summary>
    MaxTokens = 1,

    /// <summary>An end-of-sequence token was produced (it is not part of the answer).</summary>
    EndOfSequence = 2,

    /// <summary>A stop sequence appeared in the decoded text (the text is cut before it).</summary>
    StopSequence = 3,

    /// <summary>The model's context (max_seq_len) is full.</summary>
    ContextFull = 4,
}
