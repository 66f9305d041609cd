namespace Retro.Tokenizers.Training;

/// <summary>What a <see cref="BpeTrainer"/> run read and how long each phase took.</summary>
/// <param name="Documents">Documents fed.</param>
/// <param name="Utf8Bytes">UTF-8 size of the documents fed.</param>
/// <param name="UniqueWords">Distinct pre-tokens counted.</param>
/// <param name="CountingSeconds">Wall time spent pre-tokenizing and counting words (all Feed calls).</param>
/// <param name="MergeSeconds">Wall time of the merge phase (pair counting included).</param>
/// <param name="Merges">Merges learned.</param>
public sealed record BpeTrainingStats(long Documents, long Utf8Bytes, int UniqueWords, double CountingSeconds, double MergeSeconds, int Merges);
