using Microsoft.Extensions.Options;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.Api.Hosting;

/// <summary>Cross-field rule of <c>Retro:Retrieval</c>: candidates ≥ k.</summary>
internal sealed class RetrievalOptionsValidator : IValidateOptions<RetrievalOptions>
{
    public ValidateOptionsResult Validate(string? name, RetrievalOptions options) => options.Candidates >= options.K
        ? ValidateOptionsResult.Success
        : ValidateOptionsResult.Fail($"{RetrievalOptions.Section}: Candidates ({options.Candidates}) must be at least K ({options.K}).");
}
