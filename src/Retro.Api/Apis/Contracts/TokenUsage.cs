namespace Retro.Api.Apis.Contracts;

/// <summary>Token counts of a generation.</summary>
/// <param name="PromptTokens">Prompt tokens fed to the decoder (padding included).</param>
/// <param name="CompletionTokens">Generated tokens.</param>
/// <param name="Retrievals">Retrievals made (one per completed chunk).</param>
public sealed record TokenUsage(int PromptTokens, int CompletionTokens, int Retrievals);
