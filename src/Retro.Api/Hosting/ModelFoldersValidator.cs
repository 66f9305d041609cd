using Microsoft.Extensions.Options;
using Retro.Api.Infrastructure;
using Retro.Core;
using Retro.Core.Options;
using Retro.Core.Ranking;

namespace Retro.Api.Hosting;

/// <summary>Fails start-up with a clear message when a folder named by <c>Retro:Models</c> is missing or lacks its files.</summary>
internal sealed class ModelFoldersValidator(RepositoryPaths paths) : IValidateOptions<ModelOptions>
{
    private static readonly string[] RequiredFiles = ["config.json", "model.safetensors"];

    public ValidateOptionsResult Validate(string? name, ModelOptions options)
    {
        var failures = new List<string>();
        Check(failures, nameof(ModelOptions.Encoder), options.Encoder);
        if (!string.IsNullOrWhiteSpace(options.Reranker)) Check(failures, nameof(ModelOptions.Reranker), options.Reranker, rankerAllowed: true);
        Check(failures, nameof(ModelOptions.Decoder), options.Decoder);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private void Check(List<string> failures, string key, string folder, bool rankerAllowed = false)
    {
        string setting = $"{ModelOptions.Section}:{key}";
        string env = setting.Replace(":", "__", StringComparison.Ordinal);
        if (string.IsNullOrWhiteSpace(folder))
        {
            failures.Add($"{setting} is empty; set it (or {env}) to a model folder.");
            return;
        }
        string full = paths.Resolve(folder);
        if (!Directory.Exists(full))
        {
            failures.Add($"{setting}: model folder '{folder}' not found (looked in {full}). Ship the model there or point {env} at a folder with config.json and model.safetensors.");
            return;
        }
        if (rankerAllowed && LexicalRanker.IsRankerFolder(full)) return; // the learned ranker: ranker.json alone, parsed at load
        foreach (var file in RequiredFiles)
        {
            if (!File.Exists(Path.Combine(full, file)))
                failures.Add($"{setting}: model folder {full} has no {file}{(rankerAllowed ? $" (nor {RankerSpec.FileName}, a learned ranker)" : "")}.");
        }
    }
}
