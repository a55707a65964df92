-- WATS schema, part 10: storage. The public bucket product-images and the policies on
-- storage.objects: anyone reads it; only the owning vendor (or an admin) writes under
-- <vendor_id>/... . The bucket settings match [storage.buckets.product-images] in
-- supabase/config.toml.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values (
    'product-images',
    'product-images',
    true,
    5242880,
    array['image/png', 'image/jpeg', 'image/webp']
)
on conflict (id) do update
    set
        public = excluded.public,
        file_size_limit = excluded.file_size_limit,
        allowed_mime_types = excluded.allowed_mime_types;

create function private.can_manage_vendor_folder(p_object_name text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select coalesce(
            (storage.foldername(p_object_name))[1]
            = any(array(select v::text from unnest(private.managed_vendor_ids()) as v)),
            false
        )
    );
end;
$$;

comment on function private.can_manage_vendor_folder(text) is
'True when the first folder of storage object name p_object_name is the id of a vendor the '
'current user manages (owns, or any vendor for an admin): <vendor_id>/<anything>.';

grant execute on function private.can_manage_vendor_folder(text) to authenticated, service_role;

create policy "anyone reads product images"
on storage.objects
for select
to anon, authenticated
using (bucket_id = 'product-images');

create policy "vendors upload product images into their own folder"
on storage.objects
for insert
to authenticated
with check (bucket_id = 'product-images' and private.can_manage_vendor_folder(name));

create policy "vendors replace product images in their own folder"
on storage.objects
for update
to authenticated
using (bucket_id = 'product-images' and private.can_manage_vendor_folder(name))
with check (bucket_id = 'product-images' and private.can_manage_vendor_folder(name));

create policy "vendors delete product images in their own folder"
on storage.objects
for delete
to authenticated
using (bucket_id = 'product-images' and private.can_manage_vendor_folder(name));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
