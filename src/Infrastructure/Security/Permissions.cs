namespace Capstan.Infrastructure.Security;

/// <summary>
/// The permission catalog: flat <c>resource.action</c> strings, exact match, no wildcards (seed 003's rules). Seed 003's
/// own strings keep their spelling; every other area has one permission per kind of action. Each permission names the
/// lowest base role that holds it, following seed 004's "Min Role" column and seed 003's auth column ("bearer" =
/// any signed-in user = viewer). Custom roles (seed 003) grant more, optionally scoped to a project or team.
/// </summary>
public static class Permissions
{
    // Platform
    public const string PlatformVersionRead = "platform.version.read";
    public const string BackupManage = "backup.manage";
    public const string SettingsRead = "settings.read";
    public const string SettingsEdit = "settings.edit";

    // Identity: the caller's own account
    public const string ProfileEdit = "profile.edit";
    public const string ApiKeyManage = "api_key.manage";
    public const string WebSocketTicketCreate = "ws_ticket.create";

    // Identity: administration
    public const string UserRead = "user.read";
    public const string UserEdit = "user.edit";
    public const string AuthProviderManage = "auth_provider.manage";
    public const string InviteManage = "invite.manage";
    public const string PermissionRead = "permission.read";
    public const string RoleRead = "role.read";
    public const string RoleEdit = "role.edit";
    public const string UserRoleRead = "user_role.read";
    public const string UserRoleEdit = "user_role.edit";
    public const string TeamEdit = "team.edit";
    public const string FluxRbacRead = "rbac.read";
    public const string FluxRbacEdit = "rbac.edit";
    public const string AuditRead = "audit.read";

    // Clusters
    public const string ClusterRead = "cluster.read";
    public const string ClusterEdit = "cluster.edit";
    public const string ClusterManage = "cluster.manage";
    public const string ClientPoolClear = "k8s.client_pool.clear";

    // GitOps (Flux); the Flux RBAC policies then decide per resource
    public const string FluxRead = "flux.read";
    public const string FluxWrite = "flux.write";
    public const string FluxDelete = "flux.delete";

    // Delivery (seed 002: any signed-in "user" works on their own objects)
    public const string DeliveryRead = "delivery.read";
    public const string DeliveryEdit = "delivery.edit";
    public const string DeliveryDeploy = "delivery.deploy";
    public const string DeliveryBuild = "delivery.build";
    public const string DeliveryAdmin = "delivery.admin";

    // Access (seed 003's catalog, verbatim keys)
    public const string AgentMint = "agent.mint";
    public const string AgentRevoke = "agent.revoke";
    public const string AgentList = "agent.list";
    public const string SecretRequest = "secret.request";
    public const string SecretApprove = "secret.approve";
    public const string SecretRevealDirect = "secret.reveal.direct";
    public const string SecretValueProvide = "secret.value.provide";
    public const string SecretSecurityApprove = "secret.security.approve";
    public const string SecretList = "secret.list";
    public const string WorkflowEdit = "workflow.edit";
    public const string PolicyEdit = "policy.edit";
    public const string PolicyAuthor = "policy.author";
    public const string IntegrationEdit = "integration.edit";
    public const string IntegrationBind = "integration.bind";
    public const string AccessRead = "access.read";
    public const string ProjectEdit = "project.edit";
    public const string JobEnqueue = "job.enqueue";

    // Fleet (seed 004's Min Role per route)
    public const string FleetRead = "fleet.read";
    public const string InstanceRegister = "instance.register";
    public const string InstanceOperate = "instance.operate";
    public const string TelemetryIngest = "telemetry.ingest";
    public const string AlertManage = "alert.manage";
    public const string CommandExecute = "command.execute";
    public const string CommandBulk = "command.bulk";
    public const string DeploymentCreate = "deployment.create";
    public const string TemplateCreate = "template.create";
    public const string TemplateDelete = "template.delete";
    public const string CostManage = "cost.manage";
    public const string DriftManage = "drift.manage";
    public const string ExtensionEdit = "extension.edit";
    public const string ExtensionDelete = "extension.delete";
    public const string ExtensionUsageRecord = "extension.usage.record";
    public const string ExtensionPolicyEdit = "extension.policy.edit";
    public const string TaskManage = "task.manage";
    public const string SecurityManage = "security.manage";
    public const string SecurityFeedImport = "security.feed.import";
    public const string VaultEdit = "vault.edit";
    public const string VaultReveal = "vault.reveal";
    public const string CatalogRefresh = "catalog.refresh";
}

/// <summary>One catalog entry as <c>GET /api/v1/permissions</c> serves it, plus the lowest base role holding it.</summary>
public sealed record PermissionDefinition(string Key, string Group, string Description, BaseRole MinimumRole);

public static class PermissionCatalog
{
    public static IReadOnlyList<PermissionDefinition> All { get; } =
    [
        new(Permissions.RoleEdit, "RBAC", "Create, update, delete roles. Manage seeded role permission lists.", BaseRole.Admin),
        new(Permissions.RoleRead, "RBAC", "List roles and their permissions.", BaseRole.Viewer),
        new(Permissions.UserRoleEdit, "RBAC", "Grant or revoke role assignments to users.", BaseRole.Admin),
        new(Permissions.UserRoleRead, "RBAC", "List role assignments.", BaseRole.Viewer),
        new(Permissions.PermissionRead, "RBAC", "Read the permission catalog.", BaseRole.Viewer),
        new(Permissions.TeamEdit, "Tenancy", "Create, update, archive teams and manage team memberships.", BaseRole.Admin),
        new(Permissions.ProjectEdit, "Tenancy", "Create projects and environments and change their status.", BaseRole.Viewer),
        new(Permissions.WorkflowEdit, "Workflows", "Create, update, delete approval workflow definitions.", BaseRole.Admin),
        new(Permissions.PolicyEdit, "Workflows", "Create, update, delete policy rules that map request scope to a workflow.", BaseRole.Admin),
        new(Permissions.PolicyAuthor, "Workflows", "Author project-scoped policy rules for non-prod environments.", BaseRole.Operator),
        new(Permissions.AgentMint, "Agents", "Mint a new agent identity and return its credentials.", BaseRole.Admin),
        new(Permissions.AgentRevoke, "Agents", "Revoke an agent — heartbeats stop being accepted.", BaseRole.Admin),
        new(Permissions.AgentList, "Agents", "List all registered agents and their status.", BaseRole.Viewer),
        new(Permissions.JobEnqueue, "Agents", "Enqueue a job for the agents directly.", BaseRole.Admin),
        new(Permissions.SecretRequest, "Secrets", "Submit a patch or read request against a provider secret.", BaseRole.Developer),
        new(Permissions.SecretApprove, "Secrets", "Approve or reject pending secret requests.", BaseRole.Operator),
        new(Permissions.SecretRevealDirect, "Secrets", "Skip the approval workflow on a direct reveal; never in production environments.", BaseRole.Operator),
        new(Permissions.SecretValueProvide, "Secrets", "Fill or refuse an open cross-team request in a team's inbox.", BaseRole.Operator),
        new(Permissions.SecretSecurityApprove, "Secrets", "Cast the security-approval vote on cross-team requests in production environments.", BaseRole.Admin),
        new(Permissions.SecretList, "Observability", "List discovered secrets (metadata only, never values).", BaseRole.Viewer),
        new(Permissions.AccessRead, "Observability", "Read access requests, workflows, policies, projects and environments.", BaseRole.Viewer),
        new(Permissions.AuditRead, "Observability", "Read the immutable audit event log.", BaseRole.Admin),
        new(Permissions.IntegrationEdit, "Integrations", "Manage ArgoCD endpoints and gitops application mappings.", BaseRole.Admin),
        new(Permissions.IntegrationBind, "Integrations", "Bind or unbind self-service provider connections on projects you cover.", BaseRole.Operator),

        new(Permissions.PlatformVersionRead, "Platform", "Read the API, CLI and minimum instance versions.", BaseRole.Viewer),
        new(Permissions.BackupManage, "Platform", "Create, download, restore and delete database backups.", BaseRole.Admin),
        new(Permissions.SettingsRead, "Platform", "Read platform settings.", BaseRole.Admin),
        new(Permissions.SettingsEdit, "Platform", "Change platform settings.", BaseRole.Admin),

        new(Permissions.ProfileEdit, "Account", "Read and change your own profile, preferences and password.", BaseRole.Viewer),
        new(Permissions.ApiKeyManage, "Account", "Create, list and revoke your own API keys.", BaseRole.Viewer),
        new(Permissions.WebSocketTicketCreate, "Account", "Issue short-lived WebSocket tickets for yourself.", BaseRole.Viewer),
        new(Permissions.UserRead, "Identity", "List users.", BaseRole.Admin),
        new(Permissions.UserEdit, "Identity", "Create, update, deactivate and delete users.", BaseRole.Admin),
        new(Permissions.AuthProviderManage, "Identity", "Manage OIDC/OAuth2 sign-in providers.", BaseRole.Admin),
        new(Permissions.InviteManage, "Identity", "Read and regenerate the sign-up invite code.", BaseRole.Admin),
        new(Permissions.FluxRbacRead, "Identity", "List Flux access policies and bindings.", BaseRole.Admin),
        new(Permissions.FluxRbacEdit, "Identity", "Create Flux access policies and bind them to users.", BaseRole.Admin),

        new(Permissions.ClusterRead, "Clusters", "List and inspect registered clusters you can see.", BaseRole.Viewer),
        new(Permissions.ClusterEdit, "Clusters", "Register, update, test and share your own clusters.", BaseRole.Developer),
        new(Permissions.ClusterManage, "Clusters", "Manage every registered cluster.", BaseRole.Admin),
        new(Permissions.ClientPoolClear, "Clusters", "Drop the pooled Kubernetes clients.", BaseRole.Admin),

        new(Permissions.FluxRead, "GitOps", "Read Flux resources, events, history, logs and diffs.", BaseRole.Viewer),
        new(Permissions.FluxWrite, "GitOps", "Create, update, reconcile, suspend, resume and roll back Flux resources.", BaseRole.Operator),
        new(Permissions.FluxDelete, "GitOps", "Delete Flux resources.", BaseRole.Operator),

        new(Permissions.DeliveryRead, "Delivery", "Read your workflows, versions, runs, resources, builds and imports.", BaseRole.Viewer),
        new(Permissions.DeliveryEdit, "Delivery", "Create and change your workflows, versions and imports.", BaseRole.Developer),
        new(Permissions.DeliveryDeploy, "Delivery", "Run workflows, apply fixes and change deployed resources.", BaseRole.Developer),
        new(Permissions.DeliveryBuild, "Delivery", "Start and cancel image builds.", BaseRole.Developer),
        new(Permissions.DeliveryAdmin, "Delivery", "Manage registries, plugins and templates for everyone.", BaseRole.Admin),

        new(Permissions.FleetRead, "Fleet", "Read instances, metrics, logs, alerts, costs, drift, extensions, tasks and security.", BaseRole.Viewer),
        new(Permissions.InstanceRegister, "Fleet", "Register or re-register an instance.", BaseRole.Viewer),
        new(Permissions.InstanceOperate, "Fleet", "Suspend, resume, back up, deregister and bulk-act on instances.", BaseRole.Operator),
        new(Permissions.TelemetryIngest, "Fleet", "Send heartbeats, metrics and logs.", BaseRole.Viewer),
        new(Permissions.AlertManage, "Fleet", "Manage alert rules and channels; acknowledge and resolve alerts.", BaseRole.Operator),
        new(Permissions.CommandExecute, "Fleet", "Execute commands and scripts on an instance.", BaseRole.Developer),
        new(Permissions.CommandBulk, "Fleet", "Dispatch a command to many instances.", BaseRole.Operator),
        new(Permissions.DeploymentCreate, "Fleet", "Create deployments from a configuration.", BaseRole.Viewer),
        new(Permissions.TemplateCreate, "Fleet", "Create deployment templates.", BaseRole.Operator),
        new(Permissions.TemplateDelete, "Fleet", "Delete deployment templates.", BaseRole.Admin),
        new(Permissions.CostManage, "Fleet", "Manage budgets and cost recommendations.", BaseRole.Operator),
        new(Permissions.DriftManage, "Fleet", "Trigger drift checks, resolve drift and run remediations.", BaseRole.Operator),
        new(Permissions.ExtensionEdit, "Fleet", "Register and update extensions.", BaseRole.Operator),
        new(Permissions.ExtensionDelete, "Fleet", "Remove extensions from the registry.", BaseRole.Admin),
        new(Permissions.ExtensionUsageRecord, "Fleet", "Record extension usage.", BaseRole.Viewer),
        new(Permissions.ExtensionPolicyEdit, "Fleet", "Set and delete extension policies.", BaseRole.Operator),
        new(Permissions.TaskManage, "Fleet", "Create, change, pause, resume and trigger scheduled tasks.", BaseRole.Viewer),
        new(Permissions.SecurityManage, "Fleet", "Triage vulnerabilities, trigger scans, record rotations and SSH keys.", BaseRole.Viewer),
        new(Permissions.SecurityFeedImport, "Fleet", "Import OSV records into the local vulnerability feed.", BaseRole.Admin),
        new(Permissions.VaultEdit, "Fleet", "Create, update, rotate and delete vault secrets.", BaseRole.Operator),
        new(Permissions.VaultReveal, "Fleet", "Reveal a vault secret's value.", BaseRole.Admin),
        new(Permissions.CatalogRefresh, "Fleet", "Force a refresh of a provider's compute catalog.", BaseRole.Admin),
    ];

    private static readonly Dictionary<string, PermissionDefinition> ByKey = All.ToDictionary(permission => permission.Key, StringComparer.Ordinal);

    private static readonly Dictionary<BaseRole, IReadOnlySet<string>> ForRole = Enum.GetValues<BaseRole>().ToDictionary(
        role => role,
        role => (IReadOnlySet<string>)All.Where(permission => permission.MinimumRole <= role).Select(permission => permission.Key).ToHashSet(StringComparer.Ordinal));

    /// <summary>Permissions a custom role may grant within a project or team scope; handlers of their routes check the
    /// resource's scope. Every other permission only counts when granted globally.</summary>
    public static IReadOnlySet<string> Scopable { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        Permissions.SecretRequest,
        Permissions.SecretApprove,
        Permissions.SecretList,
        Permissions.SecretRevealDirect,
        Permissions.SecretValueProvide,
        Permissions.SecretSecurityApprove,
        Permissions.PolicyAuthor,
        Permissions.IntegrationBind,
    };

    public static bool Exists(string key) => ByKey.ContainsKey(key);

    public static PermissionDefinition Get(string key) =>
        ByKey.TryGetValue(key, out var definition) ? definition : throw new ArgumentException($"'{key}' is not in the permission catalog", nameof(key));

    /// <summary>The permissions a base role holds by itself.</summary>
    public static IReadOnlySet<string> Of(BaseRole role) => ForRole[role];
}
