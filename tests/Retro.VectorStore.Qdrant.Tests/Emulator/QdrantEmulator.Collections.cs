using System.Net;
using System.Text.Json.Nodes;

namespace Retro.VectorStore.Qdrant.Tests.Emulator;

internal sealed partial class QdrantEmulator
{
    private JsonObject ListCollections()
    {
        var list = new JsonArray();
        foreach (var name in _collections.Keys.Order(StringComparer.Ordinal)) list.Add(new JsonObject { ["name"] = name });
        return new JsonObject { ["collections"] = list };
    }

    private bool CreateCollection(string name, JsonNode body)
    {
        if (_collections.ContainsKey(name) || _aliases.ContainsKey(name))
            throw new EmulatedError(HttpStatusCode.Conflict, $"Wrong input: Collection `{name}` already exists!");
        var vectors = body["vectors"] as JsonObject ?? throw new EmulatedError(HttpStatusCode.BadRequest, "The emulator needs 'vectors'.");
        if (!vectors.ContainsKey("size"))
            throw new EmulatedError(HttpStatusCode.BadRequest, "The emulator implements one unnamed dense vector per collection only.");
        _collections[name] = new EmulatedCollection(name, body);
        return true;
    }

    private bool DeleteCollection(string name)
    {
        string target = Resolve(name);
        if (!_collections.Remove(target)) return false;
        foreach (var alias in _aliases.Where(a => a.Value == target).Select(a => a.Key).ToList()) _aliases.Remove(alias);
        return true;
    }

    private bool UpdateAliases(JsonNode body)
    {
        // Atomic like Qdrant: work on a copy, commit only when every action applies.
        var aliases = new Dictionary<string, string>(_aliases, StringComparer.Ordinal);
        foreach (var action in body["actions"]!.AsArray())
        {
            if (action!["create_alias"] is JsonObject create)
            {
                string collection = create["collection_name"]!.GetValue<string>();
                if (!_collections.ContainsKey(collection)) throw new EmulatedError(HttpStatusCode.NotFound, $"Not found: Collection `{collection}` doesn't exist!");
                aliases[create["alias_name"]!.GetValue<string>()] = collection;
            }
            else if (action["delete_alias"] is JsonObject delete)
            {
                string alias = delete["alias_name"]!.GetValue<string>();
                if (!aliases.Remove(alias)) throw new EmulatedError(HttpStatusCode.NotFound, $"Not found: Alias {alias} does not exists!");
            }
            else if (action["rename_alias"] is JsonObject rename)
            {
                string from = rename["old_alias_name"]!.GetValue<string>();
                if (!aliases.Remove(from, out var collection)) throw new EmulatedError(HttpStatusCode.NotFound, $"Not found: Alias {from} does not exists!");
                aliases[rename["new_alias_name"]!.GetValue<string>()] = collection;
            }
        }
        _aliases.Clear();
        foreach (var (alias, collection) in aliases) _aliases[alias] = collection;
        return true;
    }

    private JsonObject ListAliases(string? collection)
    {
        var list = new JsonArray();
        foreach (var (alias, target) in _aliases.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            if (collection is null || target == collection) list.Add(new JsonObject { ["alias_name"] = alias, ["collection_name"] = target });
        }
        return new JsonObject { ["aliases"] = list };
    }
}
