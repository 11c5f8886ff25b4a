// Plain-jsonnet builders for the few Grafana panel kinds the dashboards
// use (grafonnet cannot be vendored here). Every panel and query takes the
// dashboard's data source variable.
local ds = { type: 'prometheus', uid: '${datasource}' };
local refIds = 'ABCDEFGHIJ';

local target(i, t, instant) = {
  refId: refIds[i],
  datasource: ds,
  expr: t[0],
  legendFormat: t[1],
  range: !instant,
  instant: instant,
} + (if instant then { format: 'table' } else {});

// steps: [[color, value], ...], the first value null (the base colour).
local thresholds(steps) = {
  mode: 'absolute',
  steps: [{ color: s[0], value: s[1] } for s in steps],
};

// pairs: [[value, text, color], ...] in display order.
local mappings(pairs) = [{
  type: 'value',
  options: {
    [pairs[i][0]]: { text: pairs[i][1], color: pairs[i][2], index: i }
    for i in std.range(0, std.length(pairs) - 1)
  },
}];

local panel(id, type, title, description, gridPos, targets, instant=false) = {
  id: id,
  type: type,
  title: title,
  description: description,
  datasource: ds,
  gridPos: { h: gridPos[0], w: gridPos[1], x: gridPos[2], y: gridPos[3] },
  targets: [target(i, targets[i], instant) for i in std.range(0, std.length(targets) - 1)],
};

local defaults(steps, valueMappings, unit) =
  (if valueMappings != null then { mappings: mappings(valueMappings) } else {}) +
  (if unit != null then { unit: unit } else {}) +
  { thresholds: thresholds(steps) };

{
  // gridPos is [h, w, x, y]; targets are [[expr, legend], ...].
  stat(id, title, description, gridPos, targets, steps=[['green', null]], valueMappings=null, unit=null, colorMode='none', textMode='auto')::
    panel(id, 'stat', title, description, gridPos, targets) + {
      fieldConfig: { defaults: defaults(steps, valueMappings, unit), overrides: [] },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: colorMode,
        graphMode: 'none',
        textMode: textMode,
      },
    },

  timeseries(id, title, description, gridPos, targets, unit)::
    panel(id, 'timeseries', title, description, gridPos, targets) + {
      fieldConfig: { defaults: defaults([['green', null]], null, unit), overrides: [] },
      options: {
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
        tooltip: { mode: 'multi' },
      },
    },

  stateTimeline(id, title, description, gridPos, targets, valueMappings)::
    panel(id, 'state-timeline', title, description, gridPos, targets) + {
      fieldConfig: { defaults: defaults([['green', null]], valueMappings, null), overrides: [] },
      options: { showValue: 'auto', mergeValues: true, rowHeight: 0.9, legend: { showLegend: false } },
    },

  // An instant query shown as a table, one row per series.
  table(id, title, description, gridPos, targets, steps, valueMappings, transformations)::
    panel(id, 'table', title, description, gridPos, targets, instant=true) + {
      fieldConfig: { defaults: defaults(steps, valueMappings, null), overrides: [] },
      options: { showHeader: true, cellHeight: 'sm' },
      transformations: transformations,
    },

  // The values of zookeeper_server_state's state label, as one number per
  // state (the state timeline sums them so each member shows one state).
  stateMappings:: [
    ['1', 'leader', 'blue'],
    ['2', 'follower', 'green'],
    ['3', 'observer', 'purple'],
    ['4', 'standalone', 'green'],
    ['5', 'read-only', 'orange'],
    ['6', 'not serving', 'red'],
    ['7', 'unknown (down)', 'dark-red'],
  ],

  // One number per member for a state timeline or stat: the sum of
  // zookeeper_server_state weighted by stateMappings' values (exactly one
  // state is 1). sel: the dashboard's label matchers.
  stateExpr(sel)::
    local states = ['leader', 'follower', 'observer', 'standalone', 'read_only', 'not_serving', 'unknown'];
    std.join('\n+ ', [
      (if i == 0 then '' else '%d * ' % (i + 1)) +
      'sum by (server) (zookeeper_server_state{%s,state="%s"})' % [sel, states[i]]
      for i in std.range(0, std.length(states) - 1)
    ]),

  datasourceVariable:: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: {},
    hide: 0,
    refresh: 1,
    options: [],
  },

  queryVariable(name, label, query):: {
    name: name,
    label: label,
    type: 'query',
    datasource: ds,
    definition: query,
    query: { query: query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    sort: 1,
    includeAll: false,
    multi: false,
    current: {},
    hide: 0,
    options: [],
  },

  // The frame every dashboard shares; config is the mixin's _config.
  dashboard(config, uid, title, description, variables, linkTitle, panels):: {
    uid: uid,
    title: title,
    description: description,
    tags: config.dashboardTags,
    timezone: config.dashboardTimezone,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: config.dashboardRefresh,
    time: { from: 'now-1h', to: 'now' },
    templating: { list: variables },
    annotations: { list: [{
      builtIn: 1,
      datasource: { type: 'grafana', uid: '-- Grafana --' },
      enable: true,
      hide: true,
      iconColor: 'rgba(0, 211, 255, 1)',
      name: 'Annotations & Alerts',
      type: 'dashboard',
    }] },
    // The other dashboard, found by tag, with the variables carried over.
    links: [{
      title: linkTitle,
      type: 'dashboards',
      tags: config.dashboardTags,
      asDropdown: false,
      includeVars: true,
      keepTime: true,
    }],
    panels: panels,
  },
}
