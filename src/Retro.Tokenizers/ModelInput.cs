namespace Retro.Tokenizers;

/// <summary>
/// One encoder input row: ids with the post-processor's special tokens, type ids (0 for the first sequence, 1 for the
/// pair in BERT's template) and attention mask (1 for real tokens, 0 for padding). All three have the same length.
/// </summary>
public sealed record ModelInput(int[] InputIds, int[] TypeIds, int[] AttentionMask)
{
    /// <summary>Number of positions (padding included).</summary>
    public int Length => InputIds.Length;
}
