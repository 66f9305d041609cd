namespace Retro.Engine.Checkpoints;

/// <summary>The check that a model's tokenizer emits only ids its embedding table has rows for.</summary>
internal static class TokenizerFit
{
    /// <summary>
    /// Throws when the tokenizer's ids reach past <paramref name="modelVocabSize"/>: such a pair would fail (or read
    /// another row) on the first text that produces the extra ids, long after loading; better to refuse at load.
    /// </summary>
    public static void Check(int tokenizerVocabSize, int modelVocabSize, string? folder)
    {
        if (tokenizerVocabSize <= modelVocabSize) return;
        string where = folder is null ? "" : $" in {folder}";
        throw new CheckpointFormatException(folder ?? "(model)", null,
            $"the tokenizer{where} has ids up to {tokenizerVocabSize - 1}, but config.json vocab_size is {modelVocabSize}: " +
            "the tokenizer does not belong to these weights");
    }
}
