namespace Retro.Api.Apis.Contracts;

/// <summary>Identities of the models that served a request.</summary>
/// <param name="Encoder">Bi-encoder.</param>
/// <param name="Reranker">The reranker (learned ranker or cross-encoder), or null when none is loaded.</param>
/// <param name="Decoder">RETRO decoder.</param>
public sealed record ModelIds(string Encoder, string? Reranker, string Decoder);
